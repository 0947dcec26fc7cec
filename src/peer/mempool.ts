/**
 * Pending transactions, bounded (docs/LIMITS.md "Data transactions"): registrations by key, and data
 * transactions by sender and sequence number. With no balances on the chain, the bounds are what a key can
 * take: MEMPOOL_PER_SENDER pending transactions per sender, MEMPOOL_MAX_TXS and MEMPOOL_MAX_BYTES in all.
 */
import {
  MAX_BLOCK_TX_BYTES, MAX_TX_LIFETIME, MAX_TXS_PER_BLOCK, ProtocolError, REGISTER_TX_SIZE, decodeTx, encodeTx, lastSeqOf, toHex, validateTxSignatures
} from '../protocol/index.ts'
import type { ChainState, DataTx, Ed25519Verifier, RegisterTx, Transaction } from '../protocol/index.ts'

export const MEMPOOL_MAX_TXS = 1024
export const MEMPOOL_MAX_BYTES = 1024 * 1024
/** Pending data transactions one sender may have at a time. */
export const MEMPOOL_PER_SENDER = 16

interface Pending { tx: DataTx, bytes: number }

export class Mempool {
  private readonly registrations = new Map<string, RegisterTx>()
  /** By sender (in order of first arrival), then by sequence number. */
  private readonly data = new Map<string, Map<number, Pending>>()
  private dataCount = 0
  private dataBytes = 0
  private readonly max: number

  constructor (max = MEMPOOL_MAX_TXS) { this.max = max }

  get size (): number { return this.registrations.size + this.dataCount }
  get bytes (): number { return this.dataBytes + this.registrations.size * REGISTER_TX_SIZE }

  /**
   * Validates a gossiped or submitted transaction against the state it would be included on; adds it if new.
   * Codes: ALREADY_REGISTERED, DUPLICATE (pending already, or a sequence number at or below the sender's last
   * included one), TX_EXPIRED, FUTURE (an expiry beyond the inclusion window from here), MEMPOOL_FULL
   * (reason "sender" or "pool"), TX_INVALID (signature), and the decoding codes.
   */
  async validateAndAdd (state: ChainState, bytes: Uint8Array, verifier: Ed25519Verifier): Promise<Transaction> {
    const tx = decodeTx(bytes)
    if (tx.kind === 'register') {
      const id = toHex(tx.publicKey)
      if (state.registry.has(id)) throw new ProtocolError('ALREADY_REGISTERED', { publicKey: id.slice(0, 16) })
      if (this.registrations.has(id)) throw new ProtocolError('DUPLICATE', { what: 'tx', publicKey: id.slice(0, 16) })
      this.checkRoom(bytes.length)
      await validateTxSignatures(state.networkId, [tx], verifier)
      this.registrations.set(id, tx)
      return tx
    }
    const id = toHex(tx.sender)
    const height = state.tip.header.height + 1
    if (tx.expires < height) throw new ProtocolError('TX_EXPIRED', { expires: tx.expires, height })
    if (tx.expires > height + MAX_TX_LIFETIME) throw new ProtocolError('FUTURE', { what: 'tx', expires: tx.expires, max: height + MAX_TX_LIFETIME })
    const last = lastSeqOf(state.senders, id)
    if (tx.seq <= last) throw new ProtocolError('DUPLICATE', { what: 'tx', sender: id.slice(0, 16), seq: tx.seq, last })
    const mine = this.data.get(id)
    if (mine?.has(tx.seq) === true) throw new ProtocolError('DUPLICATE', { what: 'tx', sender: id.slice(0, 16), seq: tx.seq, pending: true })
    if ((mine?.size ?? 0) >= MEMPOOL_PER_SENDER) throw new ProtocolError('MEMPOOL_FULL', { reason: 'sender', sender: id.slice(0, 16), max: MEMPOOL_PER_SENDER })
    this.checkRoom(bytes.length)
    await validateTxSignatures(state.networkId, [tx], verifier)
    const entry = this.data.get(id) ?? new Map<number, Pending>()
    if (entry.has(tx.seq)) throw new ProtocolError('DUPLICATE', { what: 'tx', sender: id.slice(0, 16), seq: tx.seq, pending: true })
    entry.set(tx.seq, { tx, bytes: bytes.length })
    this.data.set(id, entry)
    this.dataCount++
    this.dataBytes += bytes.length
    return tx
  }

  /** Takes a pending data transaction out again (a submission that reached no peer). */
  remove (tx: DataTx): void {
    const id = toHex(tx.sender)
    const entry = this.data.get(id)
    const p = entry?.get(tx.seq)
    if (entry === undefined || p === undefined) return
    entry.delete(tx.seq)
    this.dataCount--
    this.dataBytes -= p.bytes
    if (entry.size === 0) this.data.delete(id)
  }

  /** The sequence numbers of `sender`'s pending data transactions. */
  pendingSeqs (sender: string): number[] {
    return [...(this.data.get(sender)?.keys() ?? [])]
  }

  private checkRoom (bytes: number): void {
    if (this.size >= this.max || this.bytes + bytes > MEMPOOL_MAX_BYTES) {
      throw new ProtocolError('MEMPOOL_FULL', { reason: 'pool', max: this.max, maxBytes: MEMPOOL_MAX_BYTES })
    }
  }

  /**
   * Transactions for the next block on `state`, valid in order and within MAX_TXS_PER_BLOCK and
   * MAX_BLOCK_TX_BYTES: registrations by key, then each sender's data transactions by ascending sequence
   * number, senders in order of first arrival. Drops what can no longer be included.
   */
  select (state: ChainState): Transaction[] {
    this.prune(state)
    const out: Transaction[] = []
    let budget = MAX_BLOCK_TX_BYTES
    for (const [, tx] of [...this.registrations].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
      if (out.length >= MAX_TXS_PER_BLOCK || budget < REGISTER_TX_SIZE) return out
      out.push(tx)
      budget -= REGISTER_TX_SIZE
    }
    const height = state.tip.header.height + 1
    for (const entry of this.data.values()) {
      for (const seq of [...entry.keys()].sort((a, b) => a - b)) {
        const p = entry.get(seq)!
        if (p.tx.expires > height + MAX_TX_LIFETIME) continue
        if (out.length >= MAX_TXS_PER_BLOCK) return out
        if (p.bytes > budget) break
        out.push(p.tx)
        budget -= p.bytes
      }
    }
    return out
  }

  /** Drops transactions that are on chain now, or can never be: registered keys, sequence numbers used, expiries passed. */
  prune (state: ChainState): void {
    for (const id of this.registrations.keys()) if (state.registry.has(id)) this.registrations.delete(id)
    const height = state.tip.header.height + 1
    for (const [id, entry] of this.data) {
      const last = lastSeqOf(state.senders, id)
      for (const [seq, p] of entry) {
        if (seq > last && p.tx.expires >= height) continue
        entry.delete(seq)
        this.dataCount--
        this.dataBytes -= p.bytes
      }
      if (entry.size === 0) this.data.delete(id)
    }
  }

  static encode (tx: Transaction): Uint8Array { return encodeTx(tx) }
}
