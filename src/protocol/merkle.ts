/**
 * The transaction Merkle tree of a block and its inclusion proofs (PROTOCOL.md §3.12). The tree is RFC 9162's
 * (Certificate Transparency v2) over the transactions' hashes in block order, with our domain-separated hashes:
 *
 *   leaf(t)    = taggedHash(tx-leaf, t)                    t = a transaction hash (taggedHash(tx, encoded tx))
 *   node(l, r) = taggedHash(tx-node, l ‖ r)
 *   MTH([t])   = leaf(t);  MTH(D), n > 1: k = the largest power of two < n, node(MTH(D[0:k]), MTH(D[k:n]))
 *   txRoot     = taggedHash(tx-root, u32(n) ‖ MTH(D))      n = 0: taggedHash(tx-root, u32(0))
 *
 * No leaf is ever duplicated (Bitcoin's odd-node rule lets two transaction lists share a root), and the count
 * is bound into the root. A proof is the audit path of RFC 9162 §2.1.3.1, deepest sibling first; its bytes
 * are `u16 size ‖ u16 index ‖ u8 length ‖ length × 32` (index < size ≤ MAX_TXS_PER_BLOCK, length ≤ MAX_PROOF_PATH,
 * and exactly the path length that (index, size) gives).
 */
import { MAX_PROOF_PATH, MAX_TXS_PER_BLOCK, TAG } from './constants.ts'
import { ProtocolError } from './errors.ts'
import { Reader, Writer, equals } from './bytes.ts'
import { taggedHash } from './hash.ts'

export interface InclusionProof {
  /** Leaves (transactions) in the tree. */
  size: number
  /** The transaction's position in the block. */
  index: number
  /** Sibling hashes from the leaf up (RFC 9162 audit path). */
  path: Uint8Array[]
}

const leaf = (t: Uint8Array): Uint8Array => taggedHash(TAG.txLeaf, t)
const node = (l: Uint8Array, r: Uint8Array): Uint8Array => taggedHash(TAG.txNode, l, r)
const u32 = (n: number): Uint8Array => new Writer(4).u32(n).finish()

/** The largest power of two below n (n >= 2). */
function split (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function mth (leaves: Uint8Array[], from: number, to: number): Uint8Array {
  const n = to - from
  if (n === 1) return leaves[from]!
  const k = split(n)
  return node(mth(leaves, from, from + k), mth(leaves, from + k, to))
}

/** txRoot over transaction hashes in block order. */
export function merkleRoot (txHashes: Uint8Array[]): Uint8Array {
  if (txHashes.length === 0) return taggedHash(TAG.txRoot, u32(0))
  return taggedHash(TAG.txRoot, u32(txHashes.length), mth(txHashes.map(leaf), 0, txHashes.length))
}

/** The audit path of leaf m of the subtree [from, to); `subtree(a, b)` is the hash of the subtree [a, b). */
function auditPath (subtree: (from: number, to: number) => Uint8Array, m: number, from: number, to: number, out: Uint8Array[]): void {
  const n = to - from
  if (n === 1) return
  const k = split(n)
  if (m < k) {
    auditPath(subtree, m, from, from + k, out)
    out.push(subtree(from + k, to))
  } else {
    auditPath(subtree, m - k, from + k, to, out)
    out.push(subtree(from, from + k))
  }
}

/** The inclusion proof of the `index`-th of `txHashes`. */
export function merkleProof (txHashes: Uint8Array[], index: number): InclusionProof {
  if (!Number.isInteger(index) || index < 0 || index >= txHashes.length) throw new RangeError(`index ${index} outside 0..${txHashes.length - 1}`)
  const leaves = txHashes.map(leaf)
  const path: Uint8Array[] = []
  auditPath((from, to) => mth(leaves, from, to), index, 0, txHashes.length, path)
  return { size: txHashes.length, index, path }
}

/**
 * The inclusion proofs of every one of `txHashes`, in order: each subtree hash is computed once for all of them
 * (about 2n hashes), where n calls of merkleProof would compute the whole tree n times.
 */
export function merkleProofs (txHashes: Uint8Array[]): InclusionProof[] {
  const leaves = txHashes.map(leaf)
  const memo = new Map<number, Uint8Array>()
  const subtree = (from: number, to: number): Uint8Array => {
    if (to - from === 1) return leaves[from]!
    const key = from * (txHashes.length + 1) + to
    let h = memo.get(key)
    if (h === undefined) {
      const k = split(to - from)
      h = node(subtree(from, from + k), subtree(from + k, to))
      memo.set(key, h)
    }
    return h
  }
  return txHashes.map((_, index) => {
    const path: Uint8Array[] = []
    auditPath(subtree, index, 0, txHashes.length, path)
    return { size: txHashes.length, index, path }
  })
}

/** The root that `proof` gives for `txHash`, or undefined if the proof's shape is impossible (RFC 9162 §2.1.3.2). */
export function rootFromProof (txHash: Uint8Array, proof: InclusionProof): Uint8Array | undefined {
  const { size, index, path } = proof
  if (!Number.isInteger(size) || !Number.isInteger(index) || index < 0 || index >= size || size > MAX_TXS_PER_BLOCK) return undefined
  let fn = index
  let sn = size - 1
  let r = leaf(txHash)
  for (const p of path) {
    if (sn === 0) return undefined
    if ((fn & 1) === 1 || fn === sn) {
      r = node(p, r)
      if ((fn & 1) === 0) while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1 }
    } else {
      r = node(r, p)
    }
    fn >>= 1
    sn >>= 1
  }
  if (sn !== 0) return undefined
  return taggedHash(TAG.txRoot, u32(size), r)
}

/** Whether `proof` shows `txHash` at `proof.index` of the block whose header has `txRoot`. */
export function verifyInclusion (txRoot: Uint8Array, txHash: Uint8Array, proof: InclusionProof): boolean {
  const got = rootFromProof(txHash, proof)
  return got !== undefined && equals(got, txRoot)
}

export function encodeInclusionProof (p: InclusionProof): Uint8Array {
  if (p.path.length > MAX_PROOF_PATH) throw new RangeError('proof path too long')
  const w = new Writer(5 + p.path.length * 32).u16(p.size).u16(p.index).u8(p.path.length)
  for (const h of p.path) w.fixed(h, 32)
  return w.finish()
}

/** Decodes proof bytes: TRUNCATED, TOO_LARGE (path over MAX_PROOF_PATH), NON_CANONICAL (index, size or length impossible). */
export function decodeInclusionProof (bytes: Uint8Array): InclusionProof {
  const r = new Reader(bytes, 'inclusion-proof')
  const size = r.u16('size')
  const index = r.u16('index')
  const n = r.u8('pathLength')
  if (n > MAX_PROOF_PATH) throw new ProtocolError('TOO_LARGE', { what: 'inclusion-proof', pathLength: n, max: MAX_PROOF_PATH })
  const path: Uint8Array[] = []
  for (let i = 0; i < n; i++) path.push(r.fixed(32, 'sibling'))
  r.end()
  if (size === 0 || size > MAX_TXS_PER_BLOCK || index >= size) throw new ProtocolError('NON_CANONICAL', { field: 'inclusion-proof', size, index })
  if (n !== pathLength(index, size)) throw new ProtocolError('NON_CANONICAL', { field: 'inclusion-proof', pathLength: n, expected: pathLength(index, size) })
  return { size, index, path }
}

/** The audit path length of leaf `index` in a tree of `size` leaves. */
export function pathLength (index: number, size: number): number {
  let n = 0
  let from = 0
  let to = size
  while (to - from > 1) {
    const k = split(to - from)
    if (index - from < k) to = from + k
    else from += k
    n++
  }
  return n
}
