/**
 * Writing to the chain from a peer (PROTOCOL.md §3.13): sign a data transaction with the caller's key, check it
 * against our own mempool rules, publish it on the txs topic, and wait until a block this peer verified itself
 * carries it. The inclusion is proven locally: the Merkle proof is built from that block's transactions, whose
 * root the verified header commits to.
 */
import {
  MAX_TX_LIFETIME, ProtocolError, computeTxHash, dataSigningMessage, encodeTx, equals, lastSeqOf, toHex, verifyInclusion
} from '../protocol/index.ts'
import type { BlockHeader, DataTx, Ed25519Verifier, InclusionProof, Transaction } from '../protocol/index.ts'
import type { Signer } from '../crypto/types.ts'
import type { ChainService } from './chain-service.ts'
import type { Mempool } from './mempool.ts'
import { findInclusion, heldInclusion } from './chain-queries.ts'
import type { TxIndex, VerifiedInclusion } from './chain-queries.ts'
import type { Clock } from './clock.ts'

/** Blocks a submitted transaction stays valid for by default: its expiry is the next height plus this. */
export const DEFAULT_EXPIRES_IN = 64

export interface SubmitOptions {
  /** Blocks from the next height until the transaction expires (1..MAX_TX_LIFETIME). Default DEFAULT_EXPIRES_IN. */
  expiresIn?: number
}

export interface DataTxInit {
  chain: ChainService
  mempool: Mempool
  verifier: Ed25519Verifier
  networkId: Uint8Array
  clock: Clock
  /** Publishes on the txs topic; resolves with the number of peers it was sent to. */
  publish: (bytes: Uint8Array) => Promise<number>
  /** Our transaction index (chain-queries.ts), to find a transaction already in a block we hold. */
  txIndex: TxIndex
  /** The header of our verified block at a height (BLOCK_NOT_HELD otherwise). */
  header: (height: number) => Promise<{ header: BlockHeader, hash: Uint8Array }>
}

export class DataTxService {
  private readonly init: DataTxInit
  /** The last sequence number this peer signed per sender, so that back-to-back submissions never collide. */
  private readonly signed = new Map<string, number>()
  private readonly waiters = new Set<(err: ProtocolError) => void>()

  constructor (init: DataTxInit) { this.init = init }

  /**
   * Signs a data transaction with `signer` and publishes it. Its sequence number is one above the highest of the
   * sender's record on our chain, its pending transactions and what we signed before. Throws LOCKED (no genesis),
   * TX_INVALID (tag, payload or expiresIn out of bounds), the mempool's codes (MEMPOOL_FULL, ...), and NO_PEERS
   * when no connected peer takes the txs topic: then nothing was sent and nothing is kept, so submitting again
   * once connected is safe.
   */
  async submit (signer: Signer, tag: string, payload: Uint8Array, opts: SubmitOptions = {}): Promise<DataTx> {
    const state = this.init.chain.state
    if (state === undefined) throw new ProtocolError('LOCKED', { reason: 'no genesis yet: nothing can be included' })
    const expiresIn = opts.expiresIn ?? DEFAULT_EXPIRES_IN
    if (!Number.isInteger(expiresIn) || expiresIn < 0 || expiresIn > MAX_TX_LIFETIME) throw new ProtocolError('TX_INVALID', { reason: 'expiresIn outside 0..MAX_TX_LIFETIME', expiresIn })
    const id = toHex(signer.publicKey)
    const seq = Math.max(lastSeqOf(state.senders, id), this.signed.get(id) ?? 0, ...this.init.mempool.pendingSeqs(id)) + 1
    const body = { sender: signer.publicKey, seq, expires: state.tip.header.height + 1 + expiresIn, tag, payload }
    let message: Uint8Array
    try {
      message = dataSigningMessage(this.init.networkId, body) // encodes the body: refuses a tag or payload out of bounds
    } catch (err) {
      throw new ProtocolError('TX_INVALID', { reason: (err as Error).message })
    }
    const tx: DataTx = { kind: 'data', ...body, signature: await signer.sign(message) }
    const encoded = encodeTx(tx)
    await this.init.mempool.validateAndAdd(state, encoded, this.init.verifier)
    const sent = await this.init.publish(encoded).catch(() => 0)
    if (sent === 0) {
      this.init.mempool.remove(tx)
      throw new ProtocolError('NO_PEERS', { what: 'txs topic', reason: 'no connected peer takes transactions: nothing was sent; submit again once connected' })
    }
    this.signed.set(id, seq)
    return tx
  }

  /**
   * Resolves with the transaction's verified inclusion once a block this peer verified carries it (at once if
   * one already does). Rejects INCLUSION_TIMEOUT after `timeoutMs`, TX_EXPIRED when the chain passes the expiry
   * of a transaction we know (`tx`), and PEER_STOPPED when the peer stops.
   */
  async waitForInclusion (txHash: Uint8Array, opts: { timeoutMs: number, tx?: Transaction }): Promise<VerifiedInclusion> {
    const { chain, clock } = this.init
    // Listen first, then look in what we hold: a block accepted meanwhile is seen either way.
    return await new Promise<VerifiedInclusion>((resolve, reject) => {
      let settled = false
      const done = (): void => { settled = true; off(); offTip(); clock.clearTimeout(timer); this.waiters.delete(fail) }
      const fail = (err: ProtocolError): void => { if (!settled) { done(); reject(err) } }
      const succeed = (v: VerifiedInclusion): void => { if (!settled) { done(); resolve(v) } }
      const off = chain.onBlocks((blocks) => {
        for (const b of blocks) {
          const found = findInclusion(b, txHash)
          if (found !== undefined) { succeed(found); return }
        }
      })
      const offTip = chain.onTip((s) => {
        const tx = opts.tx
        if (tx?.kind === 'data' && s.tip.header.height >= tx.expires) {
          // The block at the expiry height was the last chance: its block listeners run right after the tip's,
          // so the verdict waits a microtask for them.
          queueMicrotask(() => fail(new ProtocolError('TX_EXPIRED', { expires: tx.expires, height: s.tip.header.height, txHash: toHex(txHash) })))
        }
      })
      const timer = clock.setTimeout(() => { fail(new ProtocolError('INCLUSION_TIMEOUT', { txHash: toHex(txHash), timeoutMs: opts.timeoutMs })) }, opts.timeoutMs)
      this.waiters.add(fail)
      heldInclusion(chain, this.init.txIndex, txHash).then((v) => { if (v !== undefined) succeed(v) }, () => {})
    })
  }

  /**
   * Checks an inclusion handed to us (by another tab, a server, a dApp's backend) against the header we verified
   * at its height: PROOF_INVALID when the transaction is not the hash or the proof does not give our header's
   * txRoot; HEADER_MISMATCH when the named block is not ours; BLOCK_NOT_HELD when we hold no block there.
   */
  async verify (height: number, blockHash: Uint8Array, tx: Transaction, txHash: Uint8Array, proof: InclusionProof): Promise<VerifiedInclusion> {
    if (!equals(computeTxHash(tx), txHash)) throw new ProtocolError('PROOF_INVALID', { reason: 'the transaction does not hash to txHash' })
    const ours = await this.init.header(height)
    if (!equals(ours.hash, blockHash)) throw new ProtocolError('HEADER_MISMATCH', { height, reason: 'not the block this peer verified at that height' })
    if (!verifyInclusion(ours.header.txRoot, txHash, proof)) throw new ProtocolError('PROOF_INVALID', { reason: 'proof does not give the verified header\'s txRoot', height })
    return { height, blockHash: ours.hash, header: ours.header, tx, txHash, proof }
  }

  /** Rejects every pending wait with PEER_STOPPED. */
  stop (): void {
    for (const fail of [...this.waiters]) fail(new ProtocolError('PEER_STOPPED', { reason: 'the peer stopped' }))
  }
}
