/** Small statistics helpers for the simulator's report. */

export interface Quantiles { n: number, p50: number, p99: number, max: number, min: number, mean: number }

/** Quantiles of the first n values of xs (sorted in place). Nearest-rank; all zero when empty. */
export function quantiles (xs: Float64Array, n: number): Quantiles {
  if (n === 0) return { n: 0, p50: 0, p99: 0, max: 0, min: 0, mean: 0 }
  const v = xs.subarray(0, n).sort()
  let sum = 0
  for (let i = 0; i < n; i++) sum += v[i]!
  const at = (q: number): number => v[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!
  return { n, p50: round3(at(0.5)), p99: round3(at(0.99)), max: round3(v[n - 1]!), min: round3(v[0]!), mean: round3(sum / n) }
}

/** Quantiles of a histogram of small non-negative integers (hist[k] = count of value k). */
export function histQuantiles (hist: Uint32Array): Quantiles {
  let n = 0
  let sum = 0
  let min = -1
  let max = 0
  for (let k = 0; k < hist.length; k++) {
    const c = hist[k]!
    if (c === 0) continue
    n += c
    sum += c * k
    if (min < 0) min = k
    max = k
  }
  if (n === 0) return { n: 0, p50: 0, p99: 0, max: 0, min: 0, mean: 0 }
  const at = (q: number): number => {
    const rank = Math.max(1, Math.ceil(q * n))
    let acc = 0
    for (let k = 0; k < hist.length; k++) {
      acc += hist[k]!
      if (acc >= rank) return k
    }
    return max
  }
  return { n, p50: at(0.5), p99: at(0.99), max, min, mean: round3(sum / n) }
}

/** Growable Float64 sample buffer. */
export class Samples {
  data = new Float64Array(1024)
  n = 0
  add (x: number): void {
    if (this.n === this.data.length) {
      const d = new Float64Array(this.data.length * 2)
      d.set(this.data)
      this.data = d
    }
    this.data[this.n++] = x
  }

  quantiles (): Quantiles { return quantiles(this.data, this.n) }
}

export function round3 (x: number): number {
  return Math.round(x * 1000) / 1000
}
