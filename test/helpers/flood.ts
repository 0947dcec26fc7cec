/**
 * A connection flood for tests and benchmarks on loopback: raw TCP sockets to 127.0.0.1 from other loopback
 * addresses (all of 127.0.0.0/8 is loopback on Linux) that never send a byte, reopened as they close, bounded
 * in attempts; and an honest libp2p node (TCP, noise, yamux) that dials and reports how long it took.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'

/** Sockets a flood keeps open at once by default. */
export const AT_ONCE = 300

export interface Flood { stop: () => void, open: () => number, attempts: () => number, refusedEarly: () => number }

/**
 * Floods `port` from `sources` (round robin) with up to `atOnce` sockets at a time, `attempts` in all; a
 * socket that closes is replaced at once, or after `reopenMs` (a steady flood rather than a storm).
 */
export function flood (port: number, sources: string[], o: { attempts: number, atOnce: number, reopenMs?: number }): Flood {
  const sockets = new Set<Socket>()
  let attempts = 0
  let refusedEarly = 0
  let stopped = false
  const one = (): void => {
    if (stopped || attempts >= o.attempts) return
    const local = sources[attempts % sources.length]!
    attempts++
    const opened = Date.now()
    const s = connect({ port, host: '127.0.0.1', localAddress: local })
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => {
      sockets.delete(s)
      if (Date.now() - opened < 1_000) refusedEarly++ // closed by the node well before libp2p's 10 s upgrade timeout
      if (o.reopenMs === undefined) setImmediate(one)
      else setTimeout(one, o.reopenMs)
    })
  }
  for (let i = 0; i < o.atOnce; i++) one()
  return {
    stop: () => { stopped = true; for (const s of sockets) s.destroy() },
    open: () => sockets.size,
    attempts: () => attempts,
    refusedEarly: () => refusedEarly
  }
}

/** Waits (bounded, 5 s) until the flood made its first `n` attempts. */
export async function floodUnderWay (f: Flood, n: number): Promise<void> {
  for (let i = 0; i < 100 && f.attempts() < n; i++) await new Promise((resolve) => setTimeout(resolve, 50))
}

/** A fresh libp2p node dials `addr` (10 s limit): whether it connected, and how long it took. */
export async function honestDial (addr: string): Promise<{ ok: boolean, ms: number, error?: string }> {
  const node = await createLibp2p({
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
  const t0 = performance.now()
  try {
    await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
    return { ok: true, ms: performance.now() - t0 }
  } catch (err) {
    return { ok: false, ms: performance.now() - t0, error: String(err) }
  } finally {
    await node.stop()
  }
}
