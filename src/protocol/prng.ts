/**
 * Portable deterministic PRNG: SHA-256 in counter mode. Word j of the stream is the j-th big-endian
 * u32 of sha256(tag || seed || u32be(block)). `uniform(n)` uses rejection sampling, so every
 * implementation draws exactly the same numbers. Golden vectors: test/vectors/prng.json.
 */
import { TAG } from './constants.ts'
import { taggedHash } from './hash.ts'

const TWO32 = 0x1_0000_0000

export class Prng {
  private block = 0
  private words: Uint32Array = new Uint32Array(0)
  private idx = 0
  private readonly seed: Uint8Array

  constructor (seed: Uint8Array) {
    this.seed = seed.slice()
  }

  nextU32 (): number {
    if (this.idx >= this.words.length) {
      const ctr = new Uint8Array(4)
      new DataView(ctr.buffer).setUint32(0, this.block++)
      const h = taggedHash(TAG.prng, this.seed, ctr)
      const view = new DataView(h.buffer, h.byteOffset, h.byteLength)
      this.words = new Uint32Array(8)
      for (let i = 0; i < 8; i++) this.words[i] = view.getUint32(i * 4)
      this.idx = 0
    }
    return this.words[this.idx++]!
  }

  /** Uniform integer in [0, n), 1 <= n <= 2^32. */
  uniform (n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO32) throw new RangeError(`uniform bound ${n}`)
    const limit = TWO32 - (TWO32 % n)
    for (;;) {
      const x = this.nextU32()
      if (x < limit) return x % n
    }
  }
}
