/**
 * The worker's side of data transactions and proofs: the tab's data key, the wire shapes of inclusions (hex and
 * bytes, structured-clone safe) and the `tx` events of verified blocks.
 */
import { decodeInclusionProof, decodeTx, encodeInclusionProof, encodeTx, fromHex, toHex } from '../protocol/index.ts'
import type { Block, InclusionProof, Transaction } from '../protocol/index.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { generateWebCryptoSigner, webCryptoSignerFromKeyPair } from '../crypto/webcrypto.ts'
import type { Signer } from '../crypto/types.ts'
import type { IdbChainStore } from '../storage/idb-store.ts'
import type { VerifiedInclusion } from '../peer/chain-queries.ts'
import { inclusionsIn } from '../peer/chain-queries.ts'
import type { TxEvent, TxInclusion } from '../client/types.ts'

const DATA_KEY = 'data'

/** The tab's own data key: created once, non-extractable, kept in IndexedDB (not the validator key). */
export async function tabDataSigner (store: IdbChainStore): Promise<Signer> {
  const pair = await store.getKeyPair(DATA_KEY)
  if (pair !== undefined) return await webCryptoSignerFromKeyPair(pair)
  const { signer, keyPair } = await generateWebCryptoSigner()
  await store.putKeyPair(DATA_KEY, keyPair)
  return signer
}

function dataFields (tx: Transaction): TxInclusion['data'] {
  return tx.kind === 'data' ? { tag: tx.tag, sender: toHex(tx.sender), seq: tx.seq, expires: tx.expires, payload: tx.payload } : undefined
}

export function toWireInclusion (v: VerifiedInclusion): TxInclusion {
  const data = dataFields(v.tx)
  return {
    txHash: toHex(v.txHash), height: v.height, blockHash: toHex(v.blockHash), txRoot: toHex(v.header.txRoot),
    index: v.proof.index, size: v.proof.size, tx: toHex(encodeTx(v.tx)), proof: toHex(encodeInclusionProof(v.proof)),
    ...(data !== undefined ? { data } : {})
  }
}

/** An inclusion as a caller handed it in; malformed fields are PROOF_INVALID. */
export function fromWireInclusion (i: TxInclusion): { height: number, blockHash: Uint8Array, tx: Transaction, txHash: Uint8Array, proof: InclusionProof } {
  try {
    if (typeof i !== 'object' || i === null || !Number.isSafeInteger(i.height) || i.height < 0) throw new Error('height')
    const tx = decodeTx(fromHex(i.tx))
    const proof = decodeInclusionProof(fromHex(i.proof))
    const blockHash = fromHex(i.blockHash)
    const txHash = fromHex(i.txHash)
    if (blockHash.length !== 32 || txHash.length !== 32) throw new Error('hash length')
    return { height: i.height, blockHash, tx, txHash, proof }
  } catch (err) {
    throw new ProtocolError('PROOF_INVALID', { reason: 'malformed inclusion', cause: err instanceof ProtocolError ? err.code : String((err as Error).message ?? err) })
  }
}

/** The `tx` events of verified blocks: one per data transaction, with the inclusion built from the block. */
export function txEvents (blocks: Block[]): TxEvent[] {
  const out: TxEvent[] = []
  for (const b of blocks) {
    if (!b.txs.some((t) => t.kind === 'data')) continue
    for (const inc of inclusionsIn(b)) {
      const tx = inc.tx
      if (tx.kind === 'data') out.push({ tag: tx.tag, sender: toHex(tx.sender), seq: tx.seq, expires: tx.expires, payload: tx.payload, inclusion: toWireInclusion(inc) })
    }
  }
  return out
}

