/**
 * Golden vectors for the transaction Merkle tree and inclusion proofs (PROTOCOL.md §3.12), built with the
 * product code (src/protocol/merkle.ts); test/protocol/merkle.test.ts also checks them against an independent
 * reading of the spec. Leaves are t_i = sha256(utf8("merkle-vector/" + i)), standing in for transaction hashes.
 */
import { encodeInclusionProof, merkleProof, merkleRoot, sha256, toHex, utf8 } from '../../src/protocol/index.ts'

export const MERKLE_SIZES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 255, 256]
export const PROOF_SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 17]

export function vectorLeaves (n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => sha256(utf8(`merkle-vector/${i}`)))
}

export interface MerkleVectors {
  description: string
  roots: Array<{ size: number, root: string }>
  proofs: Array<{ size: number, index: number, txHash: string, root: string, proof: string }>
}

export function buildMerkleVectors (): MerkleVectors {
  return {
    description: 'txRoot = taggedHash("lightpulse/v1/tx-root", u32(n) || MTH(t_0..t_n-1)); leaf = taggedHash("lightpulse/v1/tx-leaf", t); ' +
      'node = taggedHash("lightpulse/v1/tx-node", left || right); MTH splits at the largest power of two below n (RFC 9162). ' +
      'Leaves t_i = sha256(utf8("merkle-vector/" + i)). proof = u16 size || u16 index || u8 length || length x 32 (audit path, deepest first).',
    roots: MERKLE_SIZES.map((size) => ({ size, root: toHex(merkleRoot(vectorLeaves(size))) })),
    proofs: PROOF_SIZES.flatMap((size) => {
      const leaves = vectorLeaves(size)
      const root = toHex(merkleRoot(leaves))
      return leaves.map((t, index) => ({ size, index, txHash: toHex(t), root, proof: toHex(encodeInclusionProof(merkleProof(leaves, index))) }))
    })
  }
}
