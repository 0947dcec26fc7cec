/**
 * Verified chain data for dApps over the sync protocol (PROTOCOL.md §3.9, kinds 4 and 5):
 *
 *   HEADER  u8 4 ‖ u64 height  -> one frame, the 230-byte header of the server's block at that height, or none
 *   PROOF   u8 5 ‖ 32 txHash   -> one frame, u64 height ‖ header (230) ‖ u16 txLength ‖ tx ‖ inclusion proof (§3.12),
 *                                 or none when the server's index does not hold that transaction
 *
 * A server answers PROOF from `TxIndex`: transaction hash -> height for the blocks it accepted since it started
 * and the newest INDEXED_AT_LOAD stored ones, newest TX_INDEX_ENTRIES kept. A client trusts nothing it is served:
 * `verifyProofFrame` checks the transaction's hash, the proof against the header's txRoot, and the header's hash
 * against the block hash it verified itself at that height (its store or reorg window).
 */
import {
  HEADER_SIZE, MAX_TX_SIZE, ProtocolError, Reader, Writer, computeBlockHash, computeTxHash, decodeBlock, decodeHeader,
  decodeInclusionProof, decodeTx, encodeHeader, encodeInclusionProof, encodeTx, equals, merkleProof, merkleProofs, toHex, verifyInclusion
} from '../protocol/index.ts'
import type { Block, BlockHeader, InclusionProof, Transaction } from '../protocol/index.ts'
import type { ChainService } from './chain-service.ts'

export const KIND_HEADER = 4
export const KIND_PROOF = 5
/** Transactions a server indexes for PROOF requests (newest kept). */
export const TX_INDEX_ENTRIES = 65_536
/** Stored blocks indexed when a peer starts (the newest ones). */
export const INDEXED_AT_LOAD = 1_024
/** The largest PROOF frame: height, header, tx length, tx, proof (5 + 8 x 32). */
export const MAX_PROOF_FRAME = 8 + HEADER_SIZE + 2 + MAX_TX_SIZE + 5 + 8 * 32

/** Transaction hash (hex) -> block height, bounded (the oldest entries go first). */
export class TxIndex {
  private readonly byHash = new Map<string, number>()
  private readonly max: number
  constructor (max = TX_INDEX_ENTRIES) { this.max = max }
  get size (): number { return this.byHash.size }
  add (blocks: Block[]): void {
    for (const b of blocks) {
      for (const tx of b.txs) {
        const id = toHex(computeTxHash(tx))
        this.byHash.delete(id)
        this.byHash.set(id, b.header.height)
      }
    }
    while (this.byHash.size > this.max) this.byHash.delete(this.byHash.keys().next().value!)
  }
  heightOf (txHash: Uint8Array): number | undefined { return this.byHash.get(toHex(txHash)) }
}

/**
 * Indexes every block the chain accepts from now on, and the newest INDEXED_AT_LOAD stored blocks in the
 * background (not on the start-up path). Returns the unsubscribe.
 */
export function indexChain (chain: ChainService, index: TxIndex): () => void {
  const off = chain.onBlocks((blocks) => { index.add(blocks) })
  const tip = chain.height
  void (async () => {
    for (let from = Math.max(1, tip - INDEXED_AT_LOAD + 1); from <= tip; from += 512) {
      index.add((await chain.readBlocks(from, Math.min(512, tip - from + 1))).map(decodeBlock))
    }
  })().catch(() => {}) // a store that fails here fails the chain's own reads too, which report it
  return off
}

/** The server's answer to HEADER (none when it does not hold that block). */
export async function serveHeader (chain: ChainService, height: number): Promise<Uint8Array[]> {
  const [b] = await chain.readBlocks(height, 1)
  return b === undefined ? [] : [encodeHeader(decodeBlock(b).header)]
}

/** The server's answer to PROOF (none when its index or store no longer holds the transaction). */
export async function serveProof (chain: ChainService, index: TxIndex, txHash: Uint8Array): Promise<Uint8Array[]> {
  const found = await heldInclusion(chain, index, txHash)
  if (found === undefined) return []
  const tx = encodeTx(found.tx)
  const proof = encodeInclusionProof(found.proof)
  return [new Writer(8 + HEADER_SIZE + 2 + tx.length + proof.length).u64(found.height).raw(encodeHeader(found.header)).u16(tx.length).raw(tx).raw(proof).finish()]
}

/** The inclusion of `txHash` in `block`, with its proof built from the block's transactions; undefined if it is not there. */
export function findInclusion (block: Block, txHash: Uint8Array): VerifiedInclusion | undefined {
  const hashes = block.txs.map(computeTxHash)
  const i = hashes.findIndex((h) => equals(h, txHash))
  if (i < 0) return undefined
  return { height: block.header.height, blockHash: computeBlockHash(block.header), header: block.header, tx: block.txs[i]!, txHash: hashes[i]!, proof: merkleProof(hashes, i) }
}

/** The inclusions of every transaction of `block`, in block order (each subtree hash computed once). */
export function inclusionsIn (block: Block): VerifiedInclusion[] {
  const hashes = block.txs.map(computeTxHash)
  const blockHash = computeBlockHash(block.header)
  return merkleProofs(hashes).map((proof, i) => ({ height: block.header.height, blockHash, header: block.header, tx: block.txs[i]!, txHash: hashes[i]!, proof }))
}

/** The inclusion of `txHash` from the stored block our index places it in, if we hold it (a reorg may have replaced it). */
export async function heldInclusion (chain: ChainService, index: TxIndex, txHash: Uint8Array): Promise<VerifiedInclusion | undefined> {
  const height = index.heightOf(txHash)
  if (height === undefined) return undefined
  const [bytes] = await chain.readBlocks(height, 1)
  return bytes === undefined ? undefined : findInclusion(decodeBlock(bytes), txHash)
}

export interface VerifiedInclusion {
  height: number
  blockHash: Uint8Array
  header: BlockHeader
  tx: Transaction
  txHash: Uint8Array
  proof: InclusionProof
}

/**
 * Checks a served PROOF frame for `txHash`: PROOF_INVALID (reject: a forged transaction or proof, bytes that do
 * not decode), HEADER_MISMATCH (ignore: a header that is not the block we verified at that height, e.g. another
 * fork), PROOF_UNVERIFIABLE (ignore: we do not hold a verified block at that height to check the header against).
 */
export async function verifyProofFrame (chain: ChainService, txHash: Uint8Array, frame: Uint8Array): Promise<VerifiedInclusion> {
  let height: number, header: BlockHeader, tx: Transaction, proof: InclusionProof
  try {
    const r = new Reader(frame, 'proof-response')
    height = r.u64('height')
    header = decodeHeader(r.fixed(HEADER_SIZE, 'header'))
    const txBytes = r.bytes16(MAX_TX_SIZE, 'tx')
    tx = decodeTx(txBytes)
    proof = decodeInclusionProof(frame.subarray(8 + HEADER_SIZE + 2 + txBytes.length))
  } catch (err) {
    throw new ProtocolError('PROOF_INVALID', { reason: 'undecodable', cause: err instanceof ProtocolError ? err.code : String(err) })
  }
  if (header.height !== height) throw new ProtocolError('PROOF_INVALID', { reason: 'header height', height, headerHeight: header.height })
  if (!equals(computeTxHash(tx), txHash)) throw new ProtocolError('PROOF_INVALID', { reason: 'another transaction' })
  if (!verifyInclusion(header.txRoot, txHash, proof)) throw new ProtocolError('PROOF_INVALID', { reason: 'proof does not give the header txRoot', height })
  const blockHash = computeBlockHash(header)
  const ours = await chain.hashAt(height)
  if (ours === undefined) throw new ProtocolError('PROOF_UNVERIFIABLE', { height, firstHeight: 'not held' })
  if (!equals(ours, blockHash)) throw new ProtocolError('HEADER_MISMATCH', { height })
  return { height, blockHash, header, tx, txHash, proof }
}
