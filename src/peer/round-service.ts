/**
 * Follows the rounds on top of the current tip. Every peer validates round messages (so it forwards
 * only valid ones and can show round progress); a peer with a validator key also takes part:
 * commit -> reveal -> sign, and as producer locks the template, names the revealed set (final message)
 * and assembles the block. Stages advance the moment their messages are in; the injected clock only
 * bounds the waits (commitTimeoutMs, revealTimeoutMs, signatureTimeoutMs).
 */
import {
  PRODUCER_POSITION, QUORUM_SIZE, SIGNATURES_REQUIRED, ProtocolError, addRoundMessage, allSigned, assembleBlock,
  blockSigningMessage, buildFinal, buildTemplate, computeCommitment, computeNextRound0Start, computeNextStallTime, computeRoundAt,
  countPresent, createRoundState, decodeRoundMessage, directRecipients, encodeBlock, encodeRoundMessage, equals, isProtocolError, missingReveals,
  popcount, positionOf, roundMessageSigningMessage, toHex, validateRoundMessage
} from '../protocol/index.ts'
import type { CertEntry, ChainState, RoundMessage, RoundState, Ed25519Verifier } from '../protocol/index.ts'
import type { Signer } from '../crypto/types.ts'
import type { ChainService } from './chain-service.ts'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'
import type { Emitter, PeerEvents, Stage } from './events.ts'
import type { Mempool } from './mempool.ts'

export interface RoundServiceInit {
  chain: ChainService
  verifier: Ed25519Verifier
  clock: Clock
  random: (n: number) => Uint8Array
  log: Logger
  events: Emitter<PeerEvents>
  mempool: Mempool
  signer?: Signer
  publishRound: (bytes: Uint8Array) => Promise<void>
  /**
   * Writes one of our round messages straight to the peers bound to `keys` (quorum-relay.ts); true when all
   * got it, else the message is also published by gossip. Absent: gossip only.
   */
  sendDirect?: (keys: Uint8Array[], bytes: Uint8Array) => Promise<boolean>
  publishBlock: (bytes: Uint8Array) => Promise<void>
  /**
   * TEST ONLY: misbehave on purpose, to test that the network survives it (default: honest).
   * 'silent-reveal': commit as usual, then never publish the reveal (every other duty is honest).
   */
  hostile?: HostileMode
}

/** Deliberate misbehaviour for tests (see RoundServiceInit.hostile). */
export type HostileMode = 'silent-reveal'

type Unsigned = RoundMessage extends infer M ? M extends RoundMessage ? Omit<M, 'signature'> : never : never

const MAX_EARLY = 512

interface Mine {
  secret?: Uint8Array
  committed: boolean
  revealed: boolean
  signed: boolean
  templated: boolean
  finalized: boolean
  assembled: boolean
  revealTimer: boolean
  signatureTimer: boolean
  commitTimedOut: boolean
  revealTimedOut: boolean
  signatureTimedOut: boolean
}

export class RoundService {
  private readonly init: RoundServiceInit
  private state?: ChainState
  private round0Start = 0
  /** Resume certificate in force for the current tip (only after a stall). */
  private resumeCert: CertEntry[] = []
  private readonly rounds = new Map<number, RoundState>()
  private readonly mine = new Map<number, Mine>()
  private early: Array<{ bytes: Uint8Array }> = []
  private timers: unknown[] = []
  private stopped = false
  currentRound = -1
  stalledSince?: number

  constructor (init: RoundServiceInit) {
    this.init = init
  }

  /** Called on every new tip: forget the previous height's rounds and schedule the next ones. */
  onTip (state: ChainState): void {
    if (this.stopped) return
    this.clearTimers()
    this.state = state
    this.rounds.clear()
    this.mine.clear()
    this.currentRound = -1
    this.stalledSince = undefined
    this.resumeCert = []
    this.init.mempool.prune(state)
    this.round0Start = computeNextRound0Start(state)
    this.tick()
    const early = this.early
    this.early = []
    for (const e of early) void this.handleMessage(e.bytes, false).catch(() => {})
  }

  /**
   * Lifts a stall: rounds restart at round 0 from the resume certificate's time, and the block made
   * carries the certificate.
   */
  resume (cert: CertEntry[]): void {
    const state = this.state
    if (state === undefined || this.stalledSince === undefined || this.resumeCert.length > 0) return
    this.clearTimers()
    this.rounds.clear()
    this.mine.clear()
    this.currentRound = -1
    this.stalledSince = undefined
    this.resumeCert = cert
    this.round0Start = Math.max(...cert.map((c) => c.timestamp))
    this.init.log.info('resuming stalled chain from a release-quorum certificate', { height: state.tip.header.height + 1 })
    this.tick()
  }

  stop (): void {
    this.stopped = true
    this.clearTimers()
  }

  /** Gives this peer a validator key (e.g. after enrolling from the page); duties start with the next round. */
  setSigner (signer: Signer): void {
    this.init.signer = signer
  }

  private clearTimers (): void {
    for (const t of this.timers) this.init.clock.clearTimeout(t)
    this.timers = []
  }

  private after (ms: number, fn: () => void): void {
    this.timers.push(this.init.clock.setTimeout(() => { if (!this.stopped) fn() }, ms))
  }

  /** Starts the round in progress (if any) and schedules the next round boundary. */
  private tick (): void {
    const state = this.state
    if (state === undefined) return
    const { timing } = state.preset
    const now = this.init.clock.now()
    let round: number
    try {
      round = computeRoundAt(timing, this.round0Start, now)
    } catch (err) {
      if (isProtocolError(err) && err.code === 'CHAIN_STALLED') {
        const since = computeNextStallTime(state)
        if (this.stalledSince === undefined) {
          this.stalledSince = since
          this.init.log.warn('chain stalled: no block in rounds 0..254; waiting for a release-quorum resume', { height: state.tip.header.height })
          this.init.events.emit('stalled', { height: state.tip.header.height, since })
        }
        return
      }
      throw err
    }
    if (round >= 0 && round !== this.currentRound) {
      this.currentRound = round
      this.startRound(round)
    }
    const nextBoundary = this.round0Start + timing.roundMs * (round + 1)
    this.after(nextBoundary - now, () => { this.tick() })
  }

  private getRound (round: number): RoundState {
    let rs = this.rounds.get(round)
    if (rs === undefined) {
      rs = createRoundState(this.state!, round, this.round0Start, this.resumeCert)
      this.rounds.set(round, rs)
      // Keep only a few rounds in memory.
      for (const r of this.rounds.keys()) if (r < round - 2) { this.rounds.delete(r); this.mine.delete(r) }
    }
    return rs
  }

  private myPosition (rs: RoundState): number {
    return this.init.signer === undefined ? -1 : positionOf(rs, this.init.signer.publicKey)
  }

  private mineFor (round: number): Mine {
    let m = this.mine.get(round)
    if (m === undefined) {
      m = {
        committed: false, revealed: false, signed: false, templated: false, finalized: false, assembled: false,
        revealTimer: false, signatureTimer: false, commitTimedOut: false, revealTimedOut: false, signatureTimedOut: false
      }
      this.mine.set(round, m)
    }
    return m
  }

  private emitStage (rs: RoundState, stage: Stage): void {
    const pos = this.myPosition(rs)
    this.init.events.emit('round', {
      height: rs.height,
      round: rs.round,
      stage,
      role: pos === PRODUCER_POSITION ? 'producer' : pos >= 0 ? 'validator' : 'observer',
      position: pos,
      commits: countPresent(rs.commits),
      reveals: countPresent(rs.reveals),
      signatures: countPresent(rs.blockSignatures),
      at: this.init.clock.now()
    })
  }

  private startRound (round: number): void {
    const rs = this.getRound(round)
    this.emitStage(rs, 'commit')
    if (round > 0) {
      const prev = this.rounds.get(round - 1)
      if (prev !== undefined) this.emitStage(prev, 'failed')
    }
    const pos = this.myPosition(rs)
    if (pos < 0) return
    const timing = this.state!.preset.timing
    if (pos === PRODUCER_POSITION) {
      this.after(timing.commitTimeoutMs, () => { this.mineFor(round).commitTimedOut = true; void this.maybeTemplate(rs) })
    } else {
      const mine = this.mineFor(round)
      if (!mine.committed) {
        mine.committed = true
        mine.secret = this.init.random(32)
        void this.send(rs, { kind: 'commit', parentHash: rs.parentHash, round, position: pos, commitment: computeCommitment(mine.secret) })
      }
    }
    this.drive(rs)
  }

  /** Signs, records locally, and publishes one of our own round messages. */
  private async send (rs: RoundState, unsigned: Unsigned): Promise<void> {
    const state = this.state!
    const msg = { ...unsigned, signature: new Uint8Array(64) } as RoundMessage
    msg.signature = await this.init.signer!.sign(roundMessageSigningMessage(state.networkId, msg))
    if (this.state !== state) return
    try {
      addRoundMessage(state, rs, msg)
    } catch (err) {
      this.init.log.warn('own round message not added', { err: String(err) })
      return
    }
    // Straight to those who need it (PROTOCOL.md §3.10); by gossip too when one of them is not reachable so.
    const bytes = encodeRoundMessage(msg)
    const direct = this.init.sendDirect !== undefined && await this.init.sendDirect(directRecipients(rs, msg), bytes)
    if (!direct) await this.init.publishRound(bytes)
    this.drive(rs)
  }

  /**
   * Validates a round message from the network and adds it to its round.
   * Throws a ProtocolError (reject/ignore) for anything the protocol rejects.
   */
  /**
   * Returns 'hold' for a message that is valid as far as this node can tell but not yet checkable
   * (a reveal before any commitment for it is known): kept locally, not forwarded (gossip Ignore).
   */
  async handleMessage (bytes: Uint8Array, queueIfEarly = true): Promise<'accept' | 'hold'> {
    const msg = decodeRoundMessage(bytes)
    const state = this.state
    if (state === undefined) throw new ProtocolError('LOCKED', { reason: 'no genesis yet' })
    if (!equals(msg.parentHash, state.tip.hash)) {
      if (state.ancestry.some((a) => equals(a.hash, msg.parentHash))) throw new ProtocolError('STALE', { reason: 'round for an older parent' })
      // Possibly for a block we have not seen yet: keep a bounded number to replay on the next tip.
      if (queueIfEarly && this.early.length < MAX_EARLY) this.early.push({ bytes })
      throw new ProtocolError('UNKNOWN_PARENT', { reason: 'round message for an unknown parent (queued)' })
    }
    const now = this.init.clock.now()
    let current: number
    try {
      current = computeRoundAt(state.preset.timing, this.round0Start, now + state.preset.timing.maxClockDriftMs)
    } catch {
      throw new ProtocolError('CHAIN_STALLED', { height: state.tip.header.height })
    }
    if (msg.round > current) throw new ProtocolError('FUTURE', { round: msg.round, current })
    if (msg.round < this.currentRound - 1) throw new ProtocolError('STALE', { round: msg.round, current: this.currentRound })
    const rs = this.getRound(msg.round)
    await validateRoundMessage(state.networkId, rs, msg, this.init.verifier)
    if (this.state !== state) throw new ProtocolError('STALE', { reason: 'tip changed during validation' })
    const hadTemplate = rs.template !== undefined
    const hadHeader = rs.header !== undefined
    const uncheckable = (msg.kind === 'reveal' && rs.template === undefined && rs.commits[msg.position] === undefined) ||
      (msg.kind === 'final' && rs.template === undefined)
    addRoundMessage(state, rs, msg)
    if (!hadTemplate && rs.template !== undefined) this.emitStage(rs, 'template')
    if (!hadHeader && rs.header !== undefined) this.emitStage(rs, 'sign')
    this.drive(rs)
    return uncheckable ? 'hold' : 'accept'
  }

  /** Takes whatever action our role needs now that the round has progressed. */
  private drive (rs: RoundState): void {
    if (this.stopped || this.state === undefined || !equals(rs.parentHash, this.state.tip.hash)) return
    const pos = this.myPosition(rs)
    if (pos < 0) return
    const mine = this.mineFor(rs.round)
    if (pos === PRODUCER_POSITION) {
      // Template as soon as every commitment is in, or after the commit timeout once 7 are.
      if (rs.template === undefined) void this.maybeTemplate(rs)
      // Final message as soon as every bitset member revealed, or after the reveal timeout (counted from
      // the template) once 7 did: the members still missing are left out of the header and charged a miss.
      if (rs.template !== undefined && rs.final === undefined && !mine.finalized) {
        const missing = missingReveals(rs).length
        const revealed = popcount(rs.template.bitset) - missing
        if (missing === 0 || (mine.revealTimedOut && revealed >= SIGNATURES_REQUIRED)) void this.finalize(rs)
        else if (!mine.revealTimer) {
          mine.revealTimer = true
          this.after(this.state.preset.timing.revealTimeoutMs, () => { mine.revealTimedOut = true; this.drive(rs) })
        }
      }
      // Assemble as soon as every bitset member signed, or after the signature timeout once 7 did.
      if (rs.header !== undefined && !mine.assembled) {
        if (allSigned(rs) || (mine.signatureTimedOut && countPresent(rs.blockSignatures) >= SIGNATURES_REQUIRED)) void this.assemble(rs)
        else if (!mine.signatureTimer) {
          mine.signatureTimer = true
          this.after(this.state.preset.timing.signatureTimeoutMs, () => { mine.signatureTimedOut = true; this.drive(rs) })
        }
      }
      return
    }
    const inBitset = rs.template !== undefined && (rs.template.bitset & (1 << pos)) !== 0
    if (inBitset && !mine.revealed && mine.secret !== undefined && this.init.hostile !== 'silent-reveal') {
      mine.revealed = true
      this.emitStage(rs, 'reveal')
      void this.send(rs, { kind: 'reveal', parentHash: rs.parentHash, round: rs.round, position: pos, secret: mine.secret })
    }
    if (inBitset && rs.header !== undefined && rs.blockHash !== undefined && !mine.signed) {
      mine.signed = true
      void this.signBlock(rs, pos)
    }
  }

  private async signBlock (rs: RoundState, pos: number): Promise<void> {
    const blockSignature = await this.init.signer!.sign(blockSigningMessage(this.state!.networkId, rs.blockHash!))
    await this.send(rs, { kind: 'signature', parentHash: rs.parentHash, round: rs.round, position: pos, blockHash: rs.blockHash!, blockSignature })
  }

  private async maybeTemplate (rs: RoundState): Promise<void> {
    const mine = this.mineFor(rs.round)
    if (mine.templated || rs.template !== undefined || this.state === undefined || !equals(rs.parentHash, this.state.tip.hash)) return
    const n = countPresent(rs.commits)
    if (n < QUORUM_SIZE && !(mine.commitTimedOut && n >= SIGNATURES_REQUIRED)) return
    mine.templated = true
    const template = buildTemplate(rs, this.init.mempool.select(this.state))
    this.emitStage(rs, 'template')
    await this.send(rs, template)
  }

  private async finalize (rs: RoundState): Promise<void> {
    const mine = this.mineFor(rs.round)
    if (mine.finalized || rs.final !== undefined || this.state === undefined || !equals(rs.parentHash, this.state.tip.hash)) return
    mine.finalized = true
    await this.send(rs, buildFinal(rs))
    if (rs.header !== undefined) this.emitStage(rs, 'sign')
  }

  private async assemble (rs: RoundState): Promise<void> {
    const mine = this.mineFor(rs.round)
    if (mine.assembled || this.state === undefined || !equals(rs.parentHash, this.state.tip.hash)) return
    if (countPresent(rs.blockSignatures) < SIGNATURES_REQUIRED) return
    mine.assembled = true
    const block = assembleBlock(rs)
    this.emitStage(rs, 'block')
    try {
      await this.init.chain.acceptBlock(block, 'local')
      await this.init.publishBlock(encodeBlock(block))
    } catch (err) {
      this.init.log.error('own block not accepted', { err: String(err), height: rs.height, round: rs.round })
    }
  }

  /** A short status line for the UI. */
  status (): { height: number, round: number, stage: Stage, position: number, commits: number, reveals: number, signatures: number, stalled: boolean } | undefined {
    const state = this.state
    if (state === undefined) return undefined
    const rs = this.rounds.get(this.currentRound)
    const stage: Stage = rs === undefined ? 'waiting' : rs.header !== undefined ? 'sign' : rs.template !== undefined ? 'reveal' : 'commit'
    return {
      height: state.tip.header.height + 1,
      round: this.currentRound,
      stage,
      position: rs === undefined ? -1 : this.myPosition(rs),
      commits: rs === undefined ? 0 : countPresent(rs.commits),
      reveals: rs === undefined ? 0 : countPresent(rs.reveals),
      signatures: rs === undefined ? 0 : countPresent(rs.blockSignatures),
      stalled: this.stalledSince !== undefined
    }
  }

  /** The producer key of the next block in round 0, for diagnostics. */
  nextProducer (): string | undefined {
    const rs = this.rounds.get(0)
    return rs === undefined ? undefined : toHex(rs.quorum.producer)
  }
}
