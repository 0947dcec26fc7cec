/**
 * Fast deterministic PRNG for the simulator: xoshiro128** seeded through splitmix32. Not the protocol PRNG
 * (src/protocol/prng.ts is SHA-256 based, portable and far too slow for tens of millions of draws); this one
 * only has to be reproducible for a fixed seed on one JavaScript engine, which it is (integer-only core).
 */
export class SimRandom {
  private s0: number
  private s1: number
  private s2: number
  private s3: number
  private spare = NaN

  constructor (seed: number) {
    let x = (seed >>> 0) ^ 0x9e3779b9
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next()
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  /** Uniform u32. */
  u32 (): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0
    const t = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    return result
  }

  /** Uniform in [0, 1). */
  float (): number {
    return this.u32() / 4294967296
  }

  /** Uniform integer in [0, n); n >= 1 (slight modulo bias is irrelevant for a simulation at n << 2^32). */
  int (n: number): number {
    return Math.floor(this.float() * n)
  }

  /** True with probability p. */
  chance (p: number): boolean {
    return p > 0 && this.float() < p
  }

  /** Exponential with the given mean. */
  exp (mean: number): number {
    return -Math.log(1 - this.float()) * mean
  }

  /** Standard normal (Box-Muller, caches the second value). */
  normal (): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare
      this.spare = NaN
      return v
    }
    let u = 0
    while (u === 0) u = this.float()
    const v = this.float()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }

  /** Lognormal with the given median and log-space sigma. */
  lognormal (median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal())
  }
}

function rotl (x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
