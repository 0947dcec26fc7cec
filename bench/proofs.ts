/**
 * Inclusion proofs (PROTOCOL.md §3.12), pure protocol code under Node, at 1, 16 and 256 transactions a block:
 *   proof-verify-256       verifyInclusion of one transaction's proof in a block of 256, per proof     measured
 *                          beside it, in the same run: the bare SHA-256 calls that proof needs (path + 1
 *                          hashes of 65 bytes): the floor any verifier pays
 *   details per size       encoded proof bytes (largest over the block's positions), verify time per proof
 * Medians of 5 runs (3 with --quick); each run verifies every position's proof REPEAT times.
 */
import { randomBytes } from 'node:crypto'
import { encodeInclusionProof, merkleProof, merkleRoot, sha256, verifyInclusion } from '../src/protocol/index.ts'
import { entry, metric } from './common.ts'
import type { BenchOptions, Entry, Metric } from './common.ts'

const SIZES = [1, 16, 256]
const REPEAT = 40

export async function runProofs (o: BenchOptions): Promise<Entry[]> {
  const runs = o.quick ? 3 : 5
  const details: Record<string, Metric | number> = {}
  let verify256: number[] = []
  let floor256: number[] = []
  for (const n of SIZES) {
    const hashes = Array.from({ length: n }, () => new Uint8Array(randomBytes(32)))
    const root = merkleRoot(hashes)
    const proofs = hashes.map((_, i) => merkleProof(hashes, i))
    const maxBytes = Math.max(...proofs.map((p) => encodeInclusionProof(p).length))
    const pathLen = Math.max(...proofs.map((p) => p.path.length))
    const per: number[] = []
    const floor: number[] = []
    const node = new Uint8Array(65)
    for (let r = 0; r < runs; r++) {
      let t0 = performance.now()
      for (let k = 0; k < REPEAT; k++) {
        for (let i = 0; i < n; i++) if (!verifyInclusion(root, hashes[i]!, proofs[i]!)) throw new Error(`proof ${i} of ${n} does not verify`)
      }
      per.push((performance.now() - t0) * 1000 / (REPEAT * n))
      t0 = performance.now()
      for (let k = 0; k < REPEAT * n; k++) for (let j = 0; j <= pathLen; j++) sha256(node)
      floor.push((performance.now() - t0) * 1000 / (REPEAT * n))
    }
    details[`proofBytes-${n}`] = maxBytes
    details[`verify-${n}`] = metric(per, 'µs per proof', 2)
    details[`sha256Floor-${n}`] = metric(floor, `µs (${pathLen + 1} bare SHA-256 of 65 bytes, same run)`, 2)
    o.log(`  ${n} txs: proof ≤ ${maxBytes} bytes (path ${pathLen}), verify ${metric(per, '', 2).value} µs, floor ${metric(floor, '', 2).value} µs`)
    if (n === 256) { verify256 = per; floor256 = floor }
  }
  return [entry('proof-verify-256', metric(verify256, 'µs per proof', 2), { op: 'report', value: 0 }, { ...details, referenceSha256Floor: metric(floor256, 'µs', 2) })]
}
