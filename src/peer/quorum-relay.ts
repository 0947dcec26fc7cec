/**
 * Direct round messages (docs/PROTOCOL.md §3.10). Gossip floods every round message to every peer, yet only
 * the round's producer needs the members' commits, reveals and signatures, and only the 11 members need the
 * producer's template and final message; everyone else needs only the block. So a validator opens one
 * long-lived stream of `/lightpulse/<net>/quorum/1.0.0` to each connected peer that speaks it. The stream's
 * first frame is a hello binding the validator's key to its libp2p peer id (key 32 || Ed25519 signature 64
 * over quorumHelloSigningMessage); every later frame is one encoded round message. A round message goes on
 * these streams to every recipient that is bound here; when one is not (no connection, no hello yet, a write
 * failed), it goes by gossip as well, as before. What arrives passes through the same validation as gossip.
 */
import { lpStream } from '@libp2p/utils'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { ProtocolError, equals, isProtocolError, quorumHelloSigningMessage, toHex } from '../protocol/index.ts'
import type { Ed25519Verifier } from '../protocol/index.ts'
import type { Signer } from '../crypto/types.ts'
import type { Logger } from './logger.ts'
import { isLengthPrefixError } from './sync-service.ts'

/** Hello frame: validator public key (32) || signature (64). */
export const HELLO_BYTES = 96

export interface QuorumRelayInit {
  protocol: string
  networkId: Uint8Array
  verifier: Ed25519Verifier
  log: Logger
  /** This peer's validator key, if it has one now (a tab may enrol later). */
  signer: () => Signer | undefined
  /** Validates and applies one received round message; throws a ProtocolError as the gossip validator does. */
  deliver: (bytes: Uint8Array, from: string) => Promise<void>
  /** A coded verdict on what a peer sent (counted like gossip: rejects toward its block). */
  onVerdict: (peer: string, err: ProtocolError, bytes: number) => void
  /** Largest frame accepted (a round message at its limit). */
  maxFrame: number
  /** Peers this node has blocked: their streams are refused. */
  isBlocked: (peer: string) => boolean
}

interface Outbound { stream: Stream, write: (b: Uint8Array) => Promise<void>, queue: Promise<boolean> }

export class QuorumRelay {
  private readonly init: QuorumRelayInit
  private libp2p?: Libp2p
  /** peer id -> validator key (hex), from a verified hello on the peer's own stream to us. */
  private readonly keyOfPeer = new Map<string, string>()
  private readonly peerOfKey = new Map<string, string>()
  private readonly outbound = new Map<string, Outbound>()
  private readonly opening = new Set<string>()
  private readonly unsubscribers: Array<() => void> = []
  private hello?: { key: string, bytes: Promise<Uint8Array> }
  /** Messages written to bound recipients, sends that also needed gossip, frames received, hellos refused. */
  readonly stats = { direct: 0, fallback: 0, received: 0, badHello: 0 }

  constructor (init: QuorumRelayInit) {
    this.init = init
  }

  /** The protocol name (also the 'topic' its verdicts are counted under). */
  get protocol (): string { return this.init.protocol }

  async start (libp2p: Libp2p): Promise<void> {
    this.libp2p = libp2p
    await libp2p.handle(this.init.protocol, (stream, connection) => { void this.serve(stream, connection.remotePeer) }, { maxInboundStreams: 2, runOnLimitedConnection: true })
    const onIdentify = (e: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
      if (e.detail.protocols.includes(this.init.protocol)) void this.open(e.detail.peerId)
    }
    const onDisconnect = (e: CustomEvent<PeerId>): void => { this.forget(e.detail.toString()) }
    libp2p.addEventListener('peer:identify', onIdentify as never)
    libp2p.addEventListener('peer:disconnect', onDisconnect as never)
    this.unsubscribers.push(() => {
      libp2p.removeEventListener('peer:identify', onIdentify as never)
      libp2p.removeEventListener('peer:disconnect', onDisconnect as never)
    })
  }

  async stop (): Promise<void> {
    for (const u of this.unsubscribers) u()
    this.unsubscribers.length = 0
    for (const o of this.outbound.values()) o.stream.abort(new Error('stopping'))
    this.outbound.clear()
    await this.libp2p?.unhandle(this.init.protocol).catch(() => {})
  }

  /** Opens our stream to every connected peer that speaks the protocol (after enrolling, say). */
  openAll (): void {
    const libp2p = this.libp2p
    if (libp2p === undefined) return
    for (const c of libp2p.getConnections()) void this.open(c.remotePeer)
  }

  /** Peers bound to a validator key here (both ways: we can write to them and know who they are). */
  boundPeers (): number {
    let n = 0
    for (const id of this.keyOfPeer.keys()) if (this.outbound.has(id)) n++
    return n
  }

  /**
   * Writes `bytes` to the peers bound to `keys` (our own key skipped). True when every recipient got it
   * directly; false when the caller must also publish it by gossip.
   */
  async send (keys: Uint8Array[], bytes: Uint8Array): Promise<boolean> {
    const own = this.init.signer()?.publicKey
    const writes: Array<Promise<boolean>> = []
    let missing = 0
    for (const key of keys) {
      if (own !== undefined && equals(key, own)) continue
      const peer = this.peerOfKey.get(toHex(key))
      const out = peer === undefined ? undefined : this.outbound.get(peer)
      if (out === undefined) { missing++; continue }
      out.queue = out.queue.then(async () => await out.write(bytes).then(() => true, () => { this.dropOutbound(peer!, out); return false }))
      writes.push(out.queue)
    }
    const ok = (await Promise.all(writes)).filter((x) => x).length
    this.stats.direct += ok
    const all = missing === 0 && ok === writes.length
    if (!all) this.stats.fallback++
    return all
  }

  private async open (peer: PeerId): Promise<void> {
    const id = peer.toString()
    const signer = this.init.signer()
    const libp2p = this.libp2p
    if (signer === undefined || libp2p === undefined || this.outbound.has(id) || this.opening.has(id) || this.init.isBlocked(id)) return
    this.opening.add(id)
    try {
      const stream = await libp2p.dialProtocol(peer, this.init.protocol, { signal: AbortSignal.timeout(10_000), runOnLimitedConnection: true })
      const lp = lpStream(stream, { maxDataLength: this.init.maxFrame })
      await lp.write(await this.helloFor(signer, libp2p), { signal: AbortSignal.timeout(10_000) })
      const out: Outbound = { stream, write: async (b) => { await lp.write(b, { signal: AbortSignal.timeout(5_000) }) }, queue: Promise.resolve(true) }
      this.outbound.set(id, out)
      stream.addEventListener('close', () => { this.dropOutbound(id, out) }, { once: true })
    } catch (err) {
      this.init.log.debug('quorum stream not opened', { peer: id.slice(-8), err: String(err) })
    } finally {
      this.opening.delete(id)
    }
  }

  /** Our hello: the same bytes on every stream, so signed once per key. */
  private helloFor (signer: Signer, libp2p: Libp2p): Promise<Uint8Array> {
    const key = toHex(signer.publicKey)
    if (this.hello?.key !== key) {
      this.hello = {
        key,
        bytes: signer.sign(quorumHelloSigningMessage(this.init.networkId, libp2p.peerId.toMultihash().bytes)).then((sig) => {
          const hello = new Uint8Array(HELLO_BYTES)
          hello.set(signer.publicKey, 0)
          hello.set(sig, 32)
          return hello
        }, (err: unknown) => { this.hello = undefined; throw err })
      }
    }
    return this.hello.bytes
  }

  private dropOutbound (id: string, out: Outbound): void {
    if (this.outbound.get(id) === out) this.outbound.delete(id)
  }

  private forget (id: string): void {
    const out = this.outbound.get(id)
    if (out !== undefined) this.dropOutbound(id, out)
    this.unbind(id)
  }

  /** Forgets which key peer `id` is bound to (and the key's binding, if it is still this peer's). */
  private unbind (id: string): void {
    const key = this.keyOfPeer.get(id)
    this.keyOfPeer.delete(id)
    if (key !== undefined && this.peerOfKey.get(key) === id) this.peerOfKey.delete(key)
  }

  /** Reads a peer's stream to us: its hello, then round messages, each validated like gossip. */
  private async serve (stream: Stream, remote: PeerId): Promise<void> {
    const from = remote.toString()
    if (this.init.isBlocked(from)) { stream.abort(new Error('blocked')); return }
    const lp = lpStream(stream, { maxDataLength: this.init.maxFrame })
    let key: string | undefined
    try {
      const hello = (await lp.read()).subarray()
      if (hello.length !== HELLO_BYTES ||
        !await this.init.verifier.verify(hello.subarray(0, 32), quorumHelloSigningMessage(this.init.networkId, remote.toMultihash().bytes), hello.subarray(32))) {
        this.stats.badHello++
        throw new ProtocolError('BAD_SIGNATURE', { what: 'quorum-hello', length: hello.length })
      }
      key = toHex(hello.subarray(0, 32))
      this.keyOfPeer.set(from, key)
      this.peerOfKey.set(key, from)
      // Answer with our own stream if we have none to it yet (it may have identified us before we could).
      void this.open(remote)
      for (;;) {
        const frame = (await lp.read()).subarray()
        this.stats.received++
        try {
          await this.init.deliver(frame, from)
        } catch (err) {
          if (!isProtocolError(err)) throw err
          this.init.onVerdict(from, err, frame.length)
          if (err.action === 'reject' && this.init.isBlocked(from)) throw err
        }
      }
    } catch (err) {
      if (isProtocolError(err) && err.details.what === 'quorum-hello') this.init.onVerdict(from, err, 0)
      // A length prefix over maxFrame (or malformed) is junk of its claimed size, as on gossip.
      if (isLengthPrefixError(err)) this.init.onVerdict(from, new ProtocolError('TOO_LARGE', { what: 'quorum-frame', reason: (err as Error).message }), this.init.maxFrame)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      if (key !== undefined && this.keyOfPeer.get(from) === key) this.unbind(from)
    }
  }
}
