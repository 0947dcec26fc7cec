import type { Block } from '../protocol/index.ts'

/**
 * BLOCKS requests of one sync kept in flight ahead of the batch being verified: at most `depth` requests at
 * once, for consecutive height ranges of up to `batch` blocks, up to the peer's tip. A server may answer a
 * request with fewer blocks than asked (its byte budget): the missing heights are then asked for on their own
 * before the answers already in flight above them are used, so no answer is wasted (re-asking everything from
 * the tip after a short answer spends the server's budget on answers that are dropped, and starves the sync).
 */
export class BlockPrefetch {
  /** In-flight (or answered) requests by their first height. */
  private readonly pending = new Map<number, Promise<Block[]>>()
  /** The lowest height not asked for yet. */
  private frontier: number

  private readonly fetch: (from: number, count: number) => Promise<Block[]>
  private readonly tip: number
  private readonly depth: number
  private readonly batch: number

  /** `fetch(from, count)` is one BLOCKS request; heights from `from` up to `tip`, `depth` requests of ≤ `batch`. */
  constructor (fetch: (from: number, count: number) => Promise<Block[]>, from: number, tip: number, depth: number, batch: number) {
    this.fetch = fetch
    this.frontier = from
    this.tip = tip
    this.depth = depth
    this.batch = batch
  }

  /** An answer already at hand (blocks from `from` upward), used as if requested. */
  seed (from: number, blocks: Block[]): void {
    if (blocks.length === 0) return
    this.pending.set(from, Promise.resolve(blocks))
    this.frontier = Math.max(this.frontier, from + blocks.length)
  }

  /** Forgets every request (after a fork switch moved our tip): the next call asks from its height. */
  reset (): void {
    this.pending.clear()
    this.frontier = -1
  }

  /** How many requests are in flight or answered and not yet taken. */
  get inFlight (): number { return this.pending.size }

  /** The batch that starts at `from` (our tip + 1): [] once past the peer's tip. Rejects as the request did. */
  async next (from: number): Promise<Block[]> {
    if (from > this.tip) return []
    for (const k of this.pending.keys()) if (k < from) this.pending.delete(k) // overtaken: we hold those heights
    if (this.frontier <= from) { this.pending.clear(); this.frontier = from }
    if (!this.pending.has(from)) {
      // A gap below the requests in flight (a short answer), or nothing asked yet at this height.
      const above = [...this.pending.keys()].filter((k) => k > from)
      const end = above.length > 0 ? Math.min(...above) : this.frontier
      this.request(from, Math.min(this.batch, (end > from ? end : this.tip + 1) - from))
    }
    while (this.pending.size < this.depth && this.frontier <= this.tip) this.request(this.frontier, Math.min(this.batch, this.tip - this.frontier + 1))
    const p = this.pending.get(from)!
    this.pending.delete(from)
    return await p
  }

  private request (from: number, count: number): void {
    const p = this.fetch(from, count)
    p.catch(() => {}) // observed when taken; one never taken (reset, overtaken) must not be unhandled
    this.pending.set(from, p)
    this.frontier = Math.max(this.frontier, from + count)
  }
}
