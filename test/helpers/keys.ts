/** Deterministic test keys: seed i = sha256("lightpulse-test-key" || label || i). */
import { sha256 } from '../../src/protocol/hash.ts'
import { utf8, concat } from '../../src/protocol/bytes.ts'
import { createNodeSigner } from '../../src/crypto/node.ts'
import type { Signer } from '../../src/crypto/types.ts'

export function testSeed (label: string, i: number): Uint8Array {
  return sha256(concat(utf8(`lightpulse-test-key/${label}/`), new Uint8Array([i >> 8, i & 255])))
}

export function testSigners (label: string, n: number): Signer[] {
  return Array.from({ length: n }, (_, i) => createNodeSigner(testSeed(label, i)))
}
