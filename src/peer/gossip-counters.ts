/**
 * Counts gossipsub control traffic: GRAFT/PRUNE from the public events ('gossipsub:graft' /
 * 'gossipsub:prune', detail { peerId, topic, direction }) and peer exchange.
 *
 * gossipsub 17 exposes no PX figures (its events carry no PX list, and its optional `metricsRegister`
 * counts PRUNE control messages, not the peers inside them). A bootstrap's PX PRUNE is sent straight from
 * handleGraft and fires NO 'gossipsub:prune' event on the sender. So we wrap two methods of the instance,
 * `sendRpc(id, rpc)` (every RPC out: PRUNE entries with their `peers` list) and `handlePrune(id, prune)`
 * (every PRUNE in), only counting and always calling the original. If a future gossipsub renames them we
 * fall back to the events alone and `pxExact` is false.
 */
import type { GossipSub } from '@libp2p/gossipsub'

export interface GossipCounts {
  graftIn: number
  graftOut: number
  /** PRUNE events (heartbeat prunes we sent / prunes we received). */
  pruneEventsIn: number
  pruneEventsOut: number
  /** PRUNE control entries actually sent / received (exact, from the wrapped methods). */
  prunesSent: number
  prunesReceived: number
  /** PRUNEs that carried a non-empty PX list, and the peers in them. */
  pxPrunesSent: number
  pxPeersSent: number
  pxPrunesReceived: number
  pxPeersReceived: number
  /** True when PX was counted from the wrapped methods; false = events only. */
  pxExact: boolean
}

interface PruneEntry { topicID?: string, peers?: unknown[] }
interface RpcLike { control?: { prune?: PruneEntry[] } }
type Wrappable = GossipSub & {
  sendRpc?: (id: string, rpc: RpcLike) => boolean
  handlePrune?: (id: string, prune: PruneEntry[]) => Promise<void>
}

export type PruneListener = (e: { peer: string, topic: string, px: number, direction: 'sent' | 'received' }) => void

export class GossipCounters {
  readonly counts: GossipCounts = {
    graftIn: 0, graftOut: 0, pruneEventsIn: 0, pruneEventsOut: 0, prunesSent: 0, prunesReceived: 0,
    pxPrunesSent: 0, pxPeersSent: 0, pxPrunesReceived: 0, pxPeersReceived: 0, pxExact: false
  }

  private readonly listeners = new Set<PruneListener>()
  private readonly undo: Array<() => void> = []

  constructor (ps: GossipSub) {
    const onGraft = (e: CustomEvent<{ direction: string }>): void => { if (e.detail.direction === 'inbound') this.counts.graftIn++; else this.counts.graftOut++ }
    const onPrune = (e: CustomEvent<{ direction: string }>): void => { if (e.detail.direction === 'inbound') this.counts.pruneEventsIn++; else this.counts.pruneEventsOut++ }
    ps.addEventListener('gossipsub:graft', onGraft as never)
    ps.addEventListener('gossipsub:prune', onPrune as never)
    this.undo.push(() => { ps.removeEventListener('gossipsub:graft', onGraft as never); ps.removeEventListener('gossipsub:prune', onPrune as never) })
    const w = ps as Wrappable
    const send = w.sendRpc
    const handle = w.handlePrune
    if (typeof send === 'function' && typeof handle === 'function') {
      this.counts.pxExact = true
      w.sendRpc = (id, rpc) => {
        const ok = send.call(w, id, rpc)
        const prunes = rpc.control?.prune
        if (ok && prunes !== undefined) {
          for (const p of prunes) {
            const n = p.peers?.length ?? 0
            this.counts.prunesSent++
            if (n > 0) { this.counts.pxPrunesSent++; this.counts.pxPeersSent += n }
            this.notify({ peer: id, topic: p.topicID ?? '', px: n, direction: 'sent' })
          }
        }
        return ok
      }
      w.handlePrune = async (id, prune) => {
        for (const p of prune) {
          const n = p.peers?.length ?? 0
          this.counts.prunesReceived++
          if (n > 0) { this.counts.pxPrunesReceived++; this.counts.pxPeersReceived += n }
          this.notify({ peer: id, topic: p.topicID ?? '', px: n, direction: 'received' })
        }
        await handle.call(w, id, prune)
      }
      this.undo.push(() => { w.sendRpc = send; w.handlePrune = handle })
    }
  }

  /** Called for every PRUNE sent or received (exact mode only). */
  onPrune (fn: PruneListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private notify (e: Parameters<PruneListener>[0]): void {
    for (const fn of this.listeners) {
      try { fn(e) } catch { /* listener's own problem */ }
    }
  }

  dispose (): void {
    for (const u of this.undo) u()
    this.undo.length = 0
  }
}
