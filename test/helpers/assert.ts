/** Assertions on coded protocol errors. */
import assert from 'node:assert/strict'
import { ProtocolError } from '../../src/protocol/index.ts'
import type { ErrorCode } from '../../src/protocol/index.ts'

function checkError (err: unknown, code: ErrorCode): ProtocolError {
  if (!(err instanceof ProtocolError)) {
    assert.fail(`expected ProtocolError ${code}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`)
  }
  assert.equal(err.code, code, `expected ${code}, got ${err.message}`)
  return err
}

/** Runs `fn`, which must throw a ProtocolError with `code`; returns the error. */
export function throwsCode (fn: () => unknown, code: ErrorCode): ProtocolError {
  try {
    fn()
  } catch (err) {
    return checkError(err, code)
  }
  return assert.fail(`expected ProtocolError ${code}, but nothing was thrown`)
}

/** Awaits `p`, which must reject with a ProtocolError with `code`; returns the error. */
export async function rejectsCode (p: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode): Promise<ProtocolError> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return checkError(err, code)
  }
  return assert.fail(`expected ProtocolError ${code}, but the promise resolved`)
}

/** A small seeded PRNG for tests (mulberry32): not the protocol's PRNG, just reproducible noise. */
export function testRandom (seed: number): { u32: () => number, int: (n: number) => number, bytes: (n: number) => Uint8Array } {
  let a = seed >>> 0
  const u32 = (): number => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  const int = (n: number): number => u32() % n
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => u32() & 0xff)
  return { u32, int, bytes }
}

/** XORs byte `i` of `b` with `mask`, in place. */
export function flip (b: Uint8Array, i: number, mask = 1): void {
  b[i] = b[i]! ^ mask
}
