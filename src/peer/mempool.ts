/** Pending registration transactions, bounded. */
import { toHex, decodeTx, encodeTx, validateTxSignatures, ProtocolError, MAX_TXS_PER_BLOCK } from '../protocol/index.ts'
import type { ChainState, Transaction, Ed25519Verifier } from '../protocol/index.ts'

export class Mempool {
  private readonly txs = new Map<string, Transaction>()
  private readonly max: number

  constructor (max = 1024) { this.max = max }

  get size (): number { return this.txs.size }

  /** Validates a gossiped transaction against the current state; adds it if new. */
  async validateAndAdd (state: ChainState, bytes: Uint8Array, verifier: Ed25519Verifier): Promise<Transaction> {
    const tx = decodeTx(bytes)
    const id = toHex(tx.publicKey)
    if (state.registry.has(id)) throw new ProtocolError('ALREADY_REGISTERED', { publicKey: id.slice(0, 16) })
    if (this.txs.has(id)) throw new ProtocolError('DUPLICATE', { what: 'tx', publicKey: id.slice(0, 16) })
    if (this.txs.size >= this.max) throw new ProtocolError('MEMPOOL_FULL', { max: this.max })
    await validateTxSignatures(state.networkId, [tx], verifier)
    this.txs.set(id, tx)
    return tx
  }

  /** Up to MAX_TXS_PER_BLOCK transactions still valid on `state`, in a deterministic order. */
  select (state: ChainState): Transaction[] {
    const out: Transaction[] = []
    for (const [id, tx] of [...this.txs].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
      if (state.registry.has(id)) { this.txs.delete(id); continue }
      out.push(tx)
      if (out.length >= MAX_TXS_PER_BLOCK) break
    }
    return out
  }

  /** Drops transactions that are now on chain. */
  prune (state: ChainState): void {
    for (const id of this.txs.keys()) if (state.registry.has(id)) this.txs.delete(id)
  }

  static encode (tx: Transaction): Uint8Array { return encodeTx(tx) }
}
