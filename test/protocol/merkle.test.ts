/**
 * The transaction Merkle tree (src/protocol/merkle.ts, PROTOCOL.md §3.12): golden vectors, an independent
 * implementation written from the spec text (node:crypto, iterative, no code shared with the product), every
 * proof of every tree up to 40 leaves, and tampering with every byte of a proof.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import {
  MAX_PROOF_PATH, ProtocolError, computeTxRoot, decodeInclusionProof, encodeInclusionProof, merkleProof, merkleProofs, merkleRoot, pathLength,
  rootFromProof, toHex, verifyInclusion
} from '../../src/protocol/index.ts'
import type { InclusionProof } from '../../src/protocol/index.ts'
import { buildMerkleVectors, vectorLeaves } from '../vectors/build-merkle.ts'
import type { MerkleVectors } from '../vectors/build-merkle.ts'
import { toJson } from '../vectors/build.ts'

const text = readFileSync(new URL('../vectors/merkle.json', import.meta.url), 'utf8')
const vectors = JSON.parse(text) as MerkleVectors

// ---- an independent reading of §3.12 ----
function tagged (tag: string, ...parts: Buffer[]): Buffer {
  const t = Buffer.from(tag, 'utf8')
  return createHash('sha256').update(Buffer.concat([Buffer.from([t.length]), t, ...parts])).digest()
}
function refRoot (hashes: Uint8Array[]): string {
  const n = Buffer.alloc(4)
  n.writeUInt32BE(hashes.length)
  if (hashes.length === 0) return tagged('lightpulse/v1/tx-root', n).toString('hex')
  // Bottom-up with RFC 9162's split: a subtree of 2^j leaves is complete; the right edge of a level that has an
  // odd count is carried up unchanged (no duplication), which gives the same tree as the recursive definition.
  let level = hashes.map((h) => tagged('lightpulse/v1/tx-leaf', Buffer.from(h)))
  while (level.length > 1) {
    const next: Buffer[] = []
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? tagged('lightpulse/v1/tx-node', level[i]!, level[i + 1]!) : level[i]!)
    level = next
  }
  return tagged('lightpulse/v1/tx-root', n, level[0]!).toString('hex')
}

test('merkle.json is what the code produces (regenerate with test/vectors/generate.ts only on purpose)', () => {
  assert.equal(text, toJson(buildMerkleVectors()))
})

test('every root in merkle.json matches the independent implementation', () => {
  for (const v of vectors.roots) assert.equal(v.root, refRoot(vectorLeaves(v.size)), `size ${v.size}`)
})

test('every proof in merkle.json verifies, and decodes to the path that (index, size) gives', () => {
  for (const v of vectors.proofs) {
    const proof = decodeInclusionProof(Buffer.from(v.proof, 'hex'))
    assert.equal(proof.size, v.size)
    assert.equal(proof.index, v.index)
    assert.equal(proof.path.length, pathLength(v.index, v.size))
    assert.ok(verifyInclusion(Buffer.from(v.root, 'hex'), Buffer.from(v.txHash, 'hex'), proof), `size ${v.size} index ${v.index}`)
  }
})

test('roots agree with the independent implementation for 0..40 leaves; every proof verifies and no other leaf or index does', () => {
  for (let n = 0; n <= 40; n++) {
    const leaves = vectorLeaves(n)
    const root = merkleRoot(leaves)
    assert.equal(toHex(root), refRoot(leaves), `root of ${n}`)
    const all = merkleProofs(leaves)
    assert.equal(all.length, n)
    for (let i = 0; i < n; i++) {
      const p = merkleProof(leaves, i)
      assert.deepEqual(all[i], p, `merkleProofs gives merkleProof's proof ${i} of ${n}`)
      assert.ok(p.path.length <= MAX_PROOF_PATH || n > 256)
      assert.ok(verifyInclusion(root, leaves[i]!, p), `proof ${i} of ${n}`)
      assert.equal(verifyInclusion(root, leaves[(i + 1) % n]!, p), n === 1, 'another leaf with this proof')
      if (n > 1) assert.equal(verifyInclusion(root, leaves[i]!, { ...p, index: (i + 1) % n }), false, 'another index')
      assert.equal(verifyInclusion(root, leaves[i]!, { ...p, size: n + 1 }), false, 'another size')
    }
  }
})

test('roots bind the count and the order: no two lists of up to 9 leaves share a root', () => {
  const seen = new Map<string, string>()
  const leaves = vectorLeaves(9)
  const lists: Uint8Array[][] = [[]]
  for (let n = 1; n <= 9; n++) lists.push(leaves.slice(0, n), [...leaves.slice(0, n)].reverse(), [...leaves.slice(0, n), leaves[n - 1]!])
  for (const l of lists) {
    const r = toHex(merkleRoot(l))
    const key = l.map(toHex).join(',')
    if (seen.has(r)) assert.equal(seen.get(r), key, 'two different lists with one root')
    seen.set(r, key)
  }
})

test('a flipped bit anywhere in a proof fails: decoding (NON_CANONICAL) or verification', () => {
  const leaves = vectorLeaves(17)
  const root = merkleRoot(leaves)
  const bytes = encodeInclusionProof(merkleProof(leaves, 11))
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = new Uint8Array(bytes)
      b[i]! ^= 1 << bit
      let proof: InclusionProof
      try { proof = decodeInclusionProof(b) } catch (err) { assert.ok(err instanceof ProtocolError, String(err)); continue }
      assert.equal(verifyInclusion(root, leaves[11]!, proof), false, `byte ${i} bit ${bit}`)
    }
  }
})

test('malformed proof bytes get codes: TRUNCATED, TRAILING_BYTES, TOO_LARGE, NON_CANONICAL', () => {
  const code = (b: Uint8Array): string => { try { decodeInclusionProof(b); return 'ok' } catch (err) { return (err as ProtocolError).code } }
  const good = encodeInclusionProof(merkleProof(vectorLeaves(5), 4))
  assert.equal(code(good), 'ok')
  assert.equal(code(good.subarray(0, good.length - 1)), 'TRUNCATED')
  assert.equal(code(new Uint8Array([...good, 0])), 'TRAILING_BYTES')
  assert.equal(code(new Uint8Array([0, 5, 0, 4, MAX_PROOF_PATH + 1])), 'TOO_LARGE')
  assert.equal(code(new Uint8Array([0, 5, 0, 5, 0])), 'NON_CANONICAL', 'index = size')
  assert.equal(code(new Uint8Array([0, 0, 0, 0, 0])), 'NON_CANONICAL', 'size 0')
  assert.equal(code(new Uint8Array([1, 1, 0, 0, 0])), 'NON_CANONICAL', 'size over MAX_TXS_PER_BLOCK')
  assert.equal(code(new Uint8Array([0, 5, 0, 4, 0])), 'NON_CANONICAL', 'a path shorter than (4, 5) needs')
  assert.equal(rootFromProof(vectorLeaves(1)[0]!, { size: 3, index: 0, path: [] }), undefined)
})

test('computeTxRoot of no transactions is the empty root', () => {
  assert.equal(toHex(computeTxRoot([])), refRoot([]))
})
