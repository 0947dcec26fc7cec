/**
 * Hostile peers for the abuse benchmarks (gossip-flood, soak): stock js-libp2p nodes, on loopback, that do
 * what docs/LIMITS.md's DoS section says a node must withstand. Each attacker is a fresh identity; the soak
 * replaces one once the victim blocks it, as a real attacker would.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { randomBytes } from 'node:crypto'
import { syncProtocolFor } from '../src/peer/topics.ts'
import type { Topics } from '../src/peer/topics.ts'
import { gossipOptions } from '../src/peer/gossip-config.ts'
import { MAX_BLOCK_SIZE, Writer, dataSigningMessage, encodeRoundMessage, encodeTx, utf8 } from '../src/protocol/index.ts'

export type Attacker = Libp2p<{ identify: ReturnType<ReturnType<typeof identify>>, pubsub: GossipSub }>

/** A stock libp2p node (TCP, noise, yamux, identify, gossipsub subscribed to nothing yet) that may dial loopback. */
export async function createAttacker (topics: Topics): Promise<Attacker> {
  return await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), pubsub: gossipsub({ ...gossipOptions({ role: 'light', topics, isBootstrap: () => false, local: true }), floodPublish: true }) }
  }) as unknown as Attacker
}

/** The plain TCP address of a node (not WebSockets). */
export function tcpAddr (addrs: string[]): string {
  const a = addrs.find((x) => x.includes('/tcp/') && !x.includes('/ws'))
  if (a === undefined) throw new Error(`no TCP address among ${addrs.join(', ')}`)
  return a
}

/**
 * Publishes Ignore-class junk as `attacker` on rounds, blocks and txs: round messages for an old parent
 * (STALE), the old block `oldBlock` again with other bytes (STALE), expired data transactions (TX_EXPIRED).
 * Every message is distinct, so gossipsub's dedup does not absorb them, and none is invalid, so only the
 * application's Ignore budget (gossip-penalty.ts) can cost the sender. `perTick` messages per topic every
 * 10 ms until `until()` is false or `maxMs` passed. Returns the messages published per topic, and how many
 * publishes reached at least one peer.
 */
export async function publishIgnoreJunk (attacker: Attacker, topics: Topics, networkId: Uint8Array, old: { hash: Uint8Array, block?: Uint8Array },
  o: { perTick: number, maxMs: number, until?: () => boolean }): Promise<{ sent: number, delivered: number }> {
  const key = await generateKeyPair('Ed25519')
  const tx = async (seq: number): Promise<Uint8Array> => {
    const body = { sender: key.publicKey.raw, seq, expires: 1, tag: 'flood', payload: utf8(`junk ${seq}`) }
    return encodeTx({ kind: 'data', ...body, signature: await key.sign(dataSigningMessage(networkId, body)) })
  }
  const ps = attacker.services.pubsub
  let n = 0
  let delivered = 0
  const count = (p: Promise<{ recipients: unknown[] }>): void => { p.then((r) => { if (r.recipients.length > 0) delivered++ }, () => {}) }
  const end = Date.now() + o.maxMs
  while (Date.now() < end && (o.until?.() ?? true)) {
    const tick = Date.now()
    for (let i = 0; i < o.perTick; i++) {
      n++
      count(ps.publish(topics.rounds, encodeRoundMessage({ kind: 'commit', parentHash: old.hash, round: 0, position: n % 11, commitment: randomBytes(32), signature: randomBytes(64) } as never)))
      count(ps.publish(topics.txs, await tx(n)))
      if (old.block !== undefined) {
        const b = old.block.slice()
        b[b.length - 1] = n & 0xff // another reveal byte: a distinct message, still the old height
        b[b.length - 2] = (n >> 8) & 0xff
        count(ps.publish(topics.blocks, b))
      }
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10 - (Date.now() - tick))))
  }
  return { sent: n, delivered }
}

/** Block `height` from a node's sync protocol (BLOCKS, PROTOCOL.md §3.9). */
export async function fetchBlock (node: Libp2p, addr: string, networkId: Uint8Array, height: number): Promise<Uint8Array | undefined> {
  const stream = await node.dialProtocol(multiaddr(addr), syncProtocolFor(networkId))
  const lp = lpStream(stream, { maxDataLength: MAX_BLOCK_SIZE })
  await lp.write(new Writer(11).u8(2).u64(height).u16(1).finish())
  const frame = await lp.read({ signal: AbortSignal.timeout(10_000) })
  await stream.close().catch(() => {})
  return frame.subarray()
}

export type SyncAbuse = 'storm' | 'malformed' | 'unread'

/**
 * One sync-protocol request of the kind `kind` from `node` to `addr`; resolves when it is answered, refused
 * or reset (never throws). storm: BLOCKS for 64 blocks from `from`, read in full; malformed: a request of a
 * kind that does not exist; unread: BLOCKS for 64 blocks whose answer is never read (the stream is left for
 * the server's timeout to reset). Returns whether the server answered.
 */
export async function syncAbuse (node: Libp2p, addr: string, networkId: Uint8Array, kind: SyncAbuse, from: number): Promise<boolean> {
  try {
    const stream = await node.dialProtocol(multiaddr(addr), syncProtocolFor(networkId), { signal: AbortSignal.timeout(5_000) })
    const lp = lpStream(stream, { maxDataLength: MAX_BLOCK_SIZE })
    if (kind === 'malformed') {
      await lp.write(new Writer(11).u8(0xee).u64(from).u16(64).finish())
      await lp.read({ signal: AbortSignal.timeout(5_000) })
      return true
    }
    await lp.write(new Writer(11).u8(2).u64(from).u16(64).finish())
    if (kind === 'unread') return true
    for (let i = 0; i < 64; i++) await lp.read({ signal: AbortSignal.timeout(10_000) })
    await stream.close().catch(() => {})
    return true
  } catch {
    return false
  }
}
