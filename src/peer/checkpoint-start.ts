/**
 * Starting from a trusted checkpoint (PROTOCOL.md §3.11). In checkpoint mode the peer never syncs from
 * genesis: it asks each peer whose tip is at or above the checkpoint for the checkpoint's state (sync STATE),
 * verifies every byte of it against the trusted hash (verifyTrustedState), replaces its store by it, and then
 * syncs and verifies forward as usual. A stored chain that already holds the checkpoint's block is kept; one
 * that holds another block at that height, or stops below it, is replaced.
 */
import { isProtocolError, toHex, equals } from '../protocol/index.ts'
import type { Block, TrustedCheckpoint } from '../protocol/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { ChainService } from './chain-service.ts'
import type { Emitter, PeerEvents } from './events.ts'
import type { Logger } from './logger.ts'

export interface CheckpointStatus {
  height: number
  hash: string
  /** waiting: no peer has served it yet; verified: started from it; kept: the stored chain already held it; failed: see code. */
  state: 'waiting' | 'verified' | 'kept' | 'failed'
  /** The last failure: CHECKPOINT_UNAVAILABLE, CHECKPOINT_EXPIRED (final), CHECKPOINT_INVALID / CHECKPOINT_MISMATCH (a peer's forgery, that peer is blocked). */
  code?: string
  /** Peers asked that could not serve the state. */
  peersWithout: number
}

export interface CheckpointStartInit {
  checkpoint: TrustedCheckpoint
  chain: ChainService
  events: Emitter<PeerEvents>
  log: Logger
  now: () => number
  fetch: (peer: PeerId, cp: TrustedCheckpoint) => Promise<{ genesis: Block, state: Uint8Array } | undefined>
}

export class CheckpointStart {
  private readonly init: CheckpointStartInit
  private busy = false
  private readonly without = new Set<string>()
  private decided?: 'start' | 'kept'
  readonly status: CheckpointStatus

  constructor (init: CheckpointStartInit) {
    this.init = init
    this.status = { height: init.checkpoint.height, hash: toHex(init.checkpoint.hash), state: 'waiting', peersWithout: 0 }
  }

  /** Nothing left to do: started from it, or the stored chain holds it, or it expired. */
  get done (): boolean { return this.status.state !== 'waiting' }

  /**
   * Tries `peer` (whose STATUS tip is `peerTip`). True once the chain starts from (or already holds) the
   * checkpoint, so that sync goes on from there; false to skip this peer. Throws the peer's forgery (a
   * reject-class ProtocolError), which the caller counts against it.
   */
  async tryPeer (peer: PeerId, peerTip: number): Promise<boolean> {
    const { checkpoint: cp, chain } = this.init
    if (this.decided === undefined) {
      const held = chain.height >= cp.height ? await chain.hashAt(cp.height) : undefined
      this.decided = held !== undefined && equals(held, cp.hash) ? 'kept' : 'start'
      // Past the checkpoint but pruned below it: the chain was verified forward from an earlier trusted start.
      if (held === undefined && chain.height >= cp.height && chain.startedFrom !== undefined && chain.startedFrom.height <= cp.height) this.decided = 'kept'
      if (held !== undefined && !equals(held, cp.hash)) {
        this.report('CHECKPOINT_MISMATCH', `The stored chain has another block at the trusted checkpoint's height ${cp.height}; it will be replaced by the checkpoint's state.`, { height: cp.height })
      }
    }
    if (this.decided === 'kept') {
      this.status.state = 'kept'
      return true
    }
    if (this.status.state === 'failed' || this.busy || peerTip < cp.height) return false
    this.busy = true
    const id = peer.toString()
    try {
      const got = await this.init.fetch(peer, cp)
      if (got === undefined) {
        this.without.add(id)
        this.status.peersWithout = this.without.size
        this.status.code = 'CHECKPOINT_UNAVAILABLE'
        if (this.without.size === 1) {
          this.report('CHECKPOINT_UNAVAILABLE', `A peer could not serve the trusted checkpoint ${cp.height}; asking the others as they connect. If none can, the checkpoint is older than what peers keep: use a newer one.`, { height: cp.height, peer: id })
        }
        return false
      }
      const state = await chain.verifyTrusted(cp, got.genesis, got.state, this.init.now())
      await chain.startFromCheckpoint(got.genesis, state, cp)
      this.status.state = 'verified'
      this.status.code = undefined
      this.decided = 'kept'
      return true
    } catch (err) {
      if (!isProtocolError(err)) throw err
      this.status.code = err.code
      if (err.code === 'CHECKPOINT_EXPIRED') {
        this.status.state = 'failed'
        this.report(err.code, `The trusted checkpoint ${cp.height} is older than the trusting period (${Math.round(Number(err.details.trustingPeriodMs) / 60_000)} min): nothing was stored. Configure a newer checkpoint.`, err.details)
        return false
      }
      if (err.action === 'reject') {
        this.report(err.code, `Peer ${id} served a state that does not verify against the trusted checkpoint (${err.code}); it was refused, nothing was stored, and the peer is no longer used.`, { ...err.details, peer: id })
      }
      throw err
    } finally {
      this.busy = false
    }
  }

  private report (code: string, message: string, details: Record<string, unknown>): void {
    this.init.log.warn(message, { code })
    this.init.events.emit('error', { code, message, details })
  }
}
