/**
 * Binary min-heap of simulation events keyed by (time, insertion sequence), so ties pop in insertion order
 * and a run is deterministic. Events are four integers (type, a, b, c) stored in parallel typed arrays that
 * grow by doubling: no per-event objects, no garbage in the hot loop.
 */
export class EventQueue {
  private time: Float64Array
  private seq: Float64Array
  private type: Uint8Array
  private a: Int32Array
  private b: Int32Array
  private c: Int32Array
  private n = 0
  private nextSeq = 0
  /** Largest number of events ever queued at once. */
  peak = 0

  // The event popped last.
  t = 0
  evType = 0
  evA = 0
  evB = 0
  evC = 0

  constructor (capacity = 1024) {
    this.time = new Float64Array(capacity)
    this.seq = new Float64Array(capacity)
    this.type = new Uint8Array(capacity)
    this.a = new Int32Array(capacity)
    this.b = new Int32Array(capacity)
    this.c = new Int32Array(capacity)
  }

  get size (): number { return this.n }

  /** Time of the next event, or Infinity when empty. */
  peekTime (): number { return this.n > 0 ? this.time[0]! : Infinity }

  push (time: number, type: number, a: number, b = 0, c = 0): void {
    if (this.n === this.time.length) this.grow()
    const s = this.nextSeq++
    let i = this.n++
    if (this.n > this.peak) this.peak = this.n
    // sift up
    while (i > 0) {
      const p = (i - 1) >> 1
      const pt = this.time[p]!
      if (pt < time || (pt === time && this.seq[p]! < s)) break
      this.move(p, i)
      i = p
    }
    this.time[i] = time; this.seq[i] = s; this.type[i] = type; this.a[i] = a; this.b[i] = b; this.c[i] = c
  }

  /** Pops the earliest event into t/evType/evA/evB/evC; false when empty. */
  pop (): boolean {
    if (this.n === 0) return false
    this.t = this.time[0]!; this.evType = this.type[0]!; this.evA = this.a[0]!; this.evB = this.b[0]!; this.evC = this.c[0]!
    const last = --this.n
    if (last === 0) return true
    const time = this.time[last]!
    const s = this.seq[last]!
    const type = this.type[last]!
    const a = this.a[last]!
    const b = this.b[last]!
    const c = this.c[last]!
    let i = 0
    const half = last >> 1
    while (i < half) {
      let k = 2 * i + 1
      const r = k + 1
      if (r < last && (this.time[r]! < this.time[k]! || (this.time[r] === this.time[k] && this.seq[r]! < this.seq[k]!))) k = r
      const kt = this.time[k]!
      if (time < kt || (time === kt && s < this.seq[k]!)) break
      this.move(k, i)
      i = k
    }
    this.time[i] = time; this.seq[i] = s; this.type[i] = type; this.a[i] = a; this.b[i] = b; this.c[i] = c
    return true
  }

  private move (from: number, to: number): void {
    this.time[to] = this.time[from]!; this.seq[to] = this.seq[from]!; this.type[to] = this.type[from]!
    this.a[to] = this.a[from]!; this.b[to] = this.b[from]!; this.c[to] = this.c[from]!
  }

  private grow (): void {
    const cap = this.time.length * 2
    const f = (x: Float64Array): Float64Array => { const y = new Float64Array(cap); y.set(x); return y }
    const i32 = (x: Int32Array): Int32Array => { const y = new Int32Array(cap); y.set(x); return y }
    this.time = f(this.time); this.seq = f(this.seq)
    const t = new Uint8Array(cap); t.set(this.type); this.type = t
    this.a = i32(this.a); this.b = i32(this.b); this.c = i32(this.c)
  }
}
