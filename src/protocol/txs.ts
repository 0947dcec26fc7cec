/**
 * Transaction rules (PROTOCOL.md §3.13): what a block's transactions must satisfy on the state they apply to,
 * their signatures, and the data senders' replay records. Registrations add validators (registry.ts); data
 * transactions carry application bytes and change only their sender's record.
 */
import { MAX_BLOCK_TX_BYTES, MAX_TX_LIFETIME, MAX_TXS_PER_BLOCK, TAG } from './constants.ts'
import { toHex } from './bytes.ts'
import { ProtocolError, check } from './errors.ts'
import { encodeDataTxBody, encodedTxSize } from './encoding.ts'
import { signingMessage } from './hash.ts'
import type { Registry } from './registry.ts'
import type { Ed25519Verifier } from './verifier.ts'
import type { DataTx, SenderRecord, Transaction } from './types.ts'

/** Data senders' replay records by public-key hex. */
export type SenderTable = ReadonlyMap<string, SenderRecord>
export const NO_SENDERS: SenderTable = new Map()

export function registerSigningMessage (networkId: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return signingMessage(TAG.register, networkId, publicKey)
}

/** What a data transaction's sender signs: the transaction's encoding without the signature. */
export function dataSigningMessage (networkId: Uint8Array, tx: Omit<DataTx, 'signature' | 'kind'>): Uint8Array {
  return signingMessage(TAG.dataTx, networkId, encodeDataTxBody(tx))
}

/** The sequence number a sender's next data transaction must exceed (0 if it has no record). */
export function lastSeqOf (senders: SenderTable, sender: Uint8Array | string): number {
  return senders.get(typeof sender === 'string' ? sender : toHex(sender))?.lastSeq ?? 0
}

/**
 * Structural checks on the transactions of the block at `height` (no signatures), in block order:
 * at most MAX_TXS_PER_BLOCK and MAX_BLOCK_TX_BYTES; a registration is of a key not registered and not repeated;
 * a data transaction has height <= expires <= height + MAX_TX_LIFETIME and a sequence number above its
 * sender's last (the record in `senders`, then any earlier transaction of the sender in this block).
 */
export function validateTxs (registry: Registry, senders: SenderTable, height: number, txs: Transaction[]): void {
  check(txs.length <= MAX_TXS_PER_BLOCK, 'TOO_LARGE', { what: 'txs', count: txs.length, max: MAX_TXS_PER_BLOCK })
  const registered = new Set<string>()
  const seqs = new Map<string, number>()
  let bytes = 0
  for (const tx of txs) {
    bytes += encodedTxSize(tx)
    if (tx.kind === 'register') {
      const id = toHex(tx.publicKey)
      check(!registered.has(id), 'TX_DUPLICATE', { publicKey: id })
      check(!registry.has(id), 'ALREADY_REGISTERED', { publicKey: id })
      registered.add(id)
      continue
    }
    const id = toHex(tx.sender)
    check(tx.expires >= height, 'TX_INVALID', { reason: 'expired', expires: tx.expires, height })
    check(tx.expires <= height + MAX_TX_LIFETIME, 'TX_INVALID', { reason: 'expires too far ahead', expires: tx.expires, max: height + MAX_TX_LIFETIME })
    const last = seqs.get(id) ?? lastSeqOf(senders, id)
    check(tx.seq > last, 'TX_DUPLICATE', { sender: id, seq: tx.seq, last })
    seqs.set(id, tx.seq)
  }
  check(bytes <= MAX_BLOCK_TX_BYTES, 'TOO_LARGE', { what: 'txs', field: 'bytes', size: bytes, max: MAX_BLOCK_TX_BYTES })
}

/** Every transaction's signature; TX_INVALID names the first bad one. */
export async function validateTxSignatures (networkId: Uint8Array, txs: Transaction[], verifier: Ed25519Verifier): Promise<void> {
  const ok = await Promise.all(txs.map(async (tx) => tx.kind === 'register'
    ? await verifier.verify(tx.publicKey, registerSigningMessage(networkId, tx.publicKey), tx.signature)
    : await verifier.verify(tx.sender, dataSigningMessage(networkId, tx), tx.signature)))
  const bad = ok.findIndex((v) => !v)
  if (bad >= 0) {
    const tx = txs[bad]!
    throw new ProtocolError('TX_INVALID', { reason: 'bad signature', index: bad, key: toHex(tx.kind === 'register' ? tx.publicKey : tx.sender) })
  }
}

/**
 * The sender records after the block at `height` with `txs` (already validated): each data transaction sets
 * its sender's lastSeq and raises its `until` to the transaction's expiry; then every record with
 * until <= height is dropped (no transaction it guards can be included after this block). The same table is
 * returned when nothing changes.
 */
export function applyBlockToSenders (senders: SenderTable, height: number, txs: Transaction[]): SenderTable {
  let changed = false
  for (const r of senders.values()) if (r.until <= height) { changed = true; break }
  const data = txs.filter((tx): tx is DataTx => tx.kind === 'data')
  if (!changed && data.length === 0) return senders
  const next = new Map<string, SenderRecord>()
  for (const [id, r] of senders) if (r.until > height) next.set(id, r)
  for (const tx of data) {
    const id = toHex(tx.sender)
    const until = Math.max(next.get(id)?.until ?? 0, tx.expires)
    if (until > height) next.set(id, { publicKey: tx.sender, id, lastSeq: tx.seq, until })
    else next.delete(id)
  }
  return next
}
