/**
 * The stasis lock. Collects release messages (each signed by one listed release signer); once M distinct
 * signers are known and a short settle time has passed, every peer derives the same genesis from the
 * M lowest signer indices. A stalled chain is resumed the same way with resume messages naming the tip.
 */
import {
  ProtocolError, createGenesisBlock, decodeQuorumMessage, encodeQuorumMessage, equals, quorumSigningMessage,
  selectCertificate, validateQuorumMessage, computeNetworkId, computeNextStallTime, toHex, PRESETS
} from '../protocol/index.ts'
import type { NetworkConfig, QuorumMessage, ReleaseMessage, ResumeMessage, Ed25519Verifier } from '../protocol/index.ts'
import type { Signer } from '../crypto/types.ts'
import type { ChainService } from './chain-service.ts'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'
import type { Emitter, PeerEvents } from './events.ts'

export interface ReleaseServiceInit {
  network: NetworkConfig
  chain: ChainService
  verifier: Ed25519Verifier
  clock: Clock
  log: Logger
  events: Emitter<PeerEvents>
  publish: (bytes: Uint8Array) => Promise<void>
}

export class ReleaseService {
  private readonly init: ReleaseServiceInit
  private readonly networkId: Uint8Array
  readonly releases = new Map<number, ReleaseMessage>()
  private readonly resumes = new Map<number, ResumeMessage>()
  private settleTimer?: unknown

  constructor (init: ReleaseServiceInit) {
    this.init = init
    this.networkId = computeNetworkId(init.network)
  }

  get threshold (): number { return this.init.network.releaseThreshold }

  /** Valid release messages seen so far (served to peers that join while the network is locked). */
  known (): QuorumMessage[] { return [...this.releases.values()] }

  /** Validates and records a release or resume message. Throws ProtocolError on invalid input. */
  async handleMessage (bytes: Uint8Array): Promise<void> {
    const m = decodeQuorumMessage(bytes)
    await this.add(m)
  }

  async add (m: QuorumMessage): Promise<void> {
    const { network, verifier, log } = this.init
    const drift = PRESETS[network.preset].timing.maxClockDriftMs
    if (m.timestamp > this.init.clock.now() + drift) throw new ProtocolError('FUTURE', { what: m.kind, timestamp: m.timestamp })
    if (m.kind === 'release') {
      if (this.init.chain.state !== undefined) throw new ProtocolError('STALE', { reason: 'genesis already exists' })
      const have = this.releases.get(m.signer)
      if (have !== undefined && equals(have.signature, m.signature)) throw new ProtocolError('DUPLICATE', { what: 'release', signer: m.signer })
      await validateQuorumMessage(network, this.networkId, m, verifier)
      if (have === undefined || m.timestamp < have.timestamp) this.releases.set(m.signer, m)
      log.info('release message', { signer: m.signer, seen: this.releases.size, threshold: this.threshold })
      this.init.events.emit('release', { signer: m.signer, seen: this.releases.size, threshold: this.threshold })
      this.maybeGenesis()
      return
    }
    const state = this.init.chain.state
    if (state === undefined) throw new ProtocolError('LOCKED', { reason: 'resume before genesis' })
    if (!equals(m.parentHash, state.tip.hash)) throw new ProtocolError('STALE', { reason: 'resume for another tip' })
    if (m.timestamp < computeNextStallTime(state)) throw new ProtocolError('CERT_UNEXPECTED', { reason: 'resume before the chain stalled' })
    await validateQuorumMessage(network, this.networkId, m, verifier)
    this.resumes.set(m.signer, m)
    if (this.resumeCertificate() !== undefined) this.onResumeReady?.()
  }

  /** Set by the peer: called when a resume certificate for the stalled tip is complete. */
  onResumeReady?: () => void

  /** A resume certificate for the current tip, once M signers have sent one. */
  resumeCertificate (): ReturnType<typeof selectCertificate> {
    const state = this.init.chain.state
    if (state === undefined) return undefined
    const valid = [...this.resumes.values()].filter((m) => equals(m.parentHash, state.tip.hash))
    return selectCertificate(valid, this.threshold)
  }

  /** After the M-th signer, wait the preset's settle time so signers of the same moment are all counted. */
  private maybeGenesis (): void {
    if (this.settleTimer !== undefined || this.init.chain.state !== undefined || this.releases.size < this.threshold) return
    const ms = PRESETS[this.init.network.preset].timing.releaseSettleMs
    this.settleTimer = this.init.clock.setTimeout(() => { void this.formGenesis() }, ms)
  }

  /** Signs and publishes a resume message for the stalled tip (a release signer's action after a stall). */
  async publishResume (signerIndex: number, signer: Signer): Promise<ResumeMessage | undefined> {
    const state = this.init.chain.state
    if (state === undefined) return undefined
    const timestamp = Math.max(this.init.clock.now(), computeNextStallTime(state))
    const parentHash = state.tip.hash
    const signature = await signer.sign(quorumSigningMessage(this.networkId, { kind: 'resume', timestamp, parentHash }))
    const m: ResumeMessage = { kind: 'resume', signer: signerIndex, timestamp, parentHash, signature }
    await this.add(m).catch(() => {})
    await this.init.publish(encodeQuorumMessage(m))
    return m
  }

  private async formGenesis (): Promise<void> {
    this.settleTimer = undefined
    if (this.init.chain.state !== undefined) return
    const cert = selectCertificate(this.releases.values(), this.threshold)
    if (cert === undefined) return
    const block = createGenesisBlock(this.init.network, cert)
    try {
      const state = await this.init.chain.acceptGenesis(block)
      this.init.log.info('stasis lock lifted: genesis created', { hash: toHex(state.genesisHash).slice(0, 16), signers: cert.map((c) => c.signer) })
    } catch (err) {
      this.init.log.error('genesis from release quorum failed', { err: String(err) })
    }
  }

  /** Signs and publishes this node's own release message (a release signer's one action). */
  async publishRelease (signerIndex: number, signer: Signer): Promise<ReleaseMessage> {
    const timestamp = this.init.clock.now()
    const signature = await signer.sign(quorumSigningMessage(this.networkId, { kind: 'release', timestamp }))
    const m: ReleaseMessage = { kind: 'release', signer: signerIndex, timestamp, signature }
    await this.add(m).catch(() => {})
    await this.init.publish(encodeQuorumMessage(m))
    return m
  }

  /** Re-publishes an already signed release message (same bytes) for peers that joined later. */
  async republish (m: ReleaseMessage): Promise<void> {
    await this.init.publish(encodeQuorumMessage(m))
  }

  stop (): void {
    if (this.settleTimer !== undefined) this.init.clock.clearTimeout(this.settleTimer)
  }
}
