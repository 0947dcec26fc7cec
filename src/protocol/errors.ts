/**
 * Coded protocol errors. Every rule failure throws a ProtocolError whose `code` names the rule
 * and whose `details` carry the values involved, so callers (gossip validation, sync, the UI
 * across the worker boundary) can act on it without parsing messages.
 */

/** What gossip validation should do with a message that failed a rule. */
export type GossipAction = 'reject' | 'ignore'

export const ErrorCodes = {
  // decoding
  TRUNCATED: 'reject',
  TRAILING_BYTES: 'reject',
  NON_CANONICAL: 'reject',
  TOO_LARGE: 'reject',
  UNKNOWN_KIND: 'reject',
  BAD_VERSION: 'reject',
  // chain linkage and time
  UNKNOWN_PARENT: 'ignore',
  STALE: 'ignore',
  FUTURE: 'ignore',
  WRONG_HEIGHT: 'ignore',
  DUPLICATE: 'ignore',
  BAD_TIMESTAMP: 'reject',
  ROUND_OUT_OF_RANGE: 'reject',
  CHAIN_STALLED: 'ignore',
  // quorum
  NOT_ENOUGH_VALIDATORS: 'ignore',
  WRONG_PRODUCER: 'reject',
  QUORUM_INSUFFICIENT: 'reject',
  SIGNER_ORDER: 'reject',
  SIGNER_NOT_IN_BITSET: 'reject',
  BITSET_INVALID: 'reject',
  BAD_SIGNATURE: 'reject',
  NOT_IN_QUORUM: 'reject',
  // block contents
  TX_ROOT_MISMATCH: 'reject',
  REGISTRY_ROOT_MISMATCH: 'reject',
  CERT_ROOT_MISMATCH: 'reject',
  ANCHOR_MISMATCH: 'reject',
  RANDOM_MISMATCH: 'reject',
  TX_INVALID: 'reject',
  TX_DUPLICATE: 'reject',
  ALREADY_REGISTERED: 'ignore',
  // rounds
  REVEAL_MISMATCH: 'reject',
  EQUIVOCATION: 'reject',
  TEMPLATE_MISMATCH: 'reject',
  // stasis lock / release quorum
  NOT_A_RELEASE_SIGNER: 'reject',
  RELEASE_INSUFFICIENT: 'reject',
  RELEASE_INVALID: 'reject',
  CERT_UNEXPECTED: 'reject',
  GENESIS_MISMATCH: 'reject',
  LOCKED: 'ignore',
  MEMPOOL_FULL: 'ignore',
  /** A data transaction whose expiry height has passed (PROTOCOL.md §3.13): it can never be included now. */
  TX_EXPIRED: 'ignore',
  /** A submitted transaction was not in a verified block before the caller's timeout. */
  INCLUSION_TIMEOUT: 'ignore',
  /** No connected peer takes the txs topic: a submitted transaction reached no one (it stays in the local mempool). */
  NO_PEERS: 'ignore',
  /** The peer stopped while a call waited on it. */
  PEER_STOPPED: 'ignore',
  // chain states (stored, or served for a trusted checkpoint)
  CHECKPOINT_INVALID: 'reject',
  /** A served state that is well formed but not the one the trusted checkpoint names. */
  CHECKPOINT_MISMATCH: 'reject',
  /** The trusted checkpoint's header is older than the preset's trusting period (not the server's fault). */
  CHECKPOINT_EXPIRED: 'ignore',
  /** No connected peer could serve the trusted checkpoint's state. */
  CHECKPOINT_UNAVAILABLE: 'ignore',
  // served chain data for dApps (sync HEADER and PROOF)
  /** A served inclusion proof that does not prove what it claims (forged transaction, proof or bytes). */
  PROOF_INVALID: 'reject',
  /** A served header that is not the block this peer verified at that height (another fork, or a lie). */
  HEADER_MISMATCH: 'ignore',
  /** This peer holds no verified block at that height to check a served header against (pruned, not synced). */
  PROOF_UNVERIFIABLE: 'ignore',
  /** No connected peer held the transaction in its index. */
  PROOF_NOT_FOUND: 'ignore',
  /** This peer holds no verified block at that height (pruned, below its checkpoint, or above its tip). */
  BLOCK_NOT_HELD: 'ignore',
  // peer budgets (a runtime policy, not a chain rule: a request over a documented per-peer budget)
  RATE_LIMITED: 'reject',
} as const satisfies Record<string, GossipAction>

export type ErrorCode = keyof typeof ErrorCodes

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  readonly code: ErrorCode
  readonly details: Record<string, unknown>

  constructor (code: ErrorCode, details: Record<string, unknown> = {}, message?: string) {
    super(message ?? `${code}${formatDetails(details)}`)
    this.code = code
    this.details = details
  }

  /** Reject (penalise the sender) or ignore (drop silently). */
  get action (): GossipAction {
    return ErrorCodes[this.code]
  }
}

function formatDetails (details: Record<string, unknown>): string {
  const parts = Object.entries(details).map(([k, v]) => `${k}=${typeof v === 'bigint' ? v.toString() : String(v)}`)
  return parts.length === 0 ? '' : `: ${parts.join(', ')}`
}

export function isProtocolError (err: unknown): err is ProtocolError {
  return err instanceof ProtocolError
}

/** Throws a ProtocolError unless `cond` holds. */
export function check (cond: boolean, code: ErrorCode, details: Record<string, unknown> = {}): asserts cond {
  if (!cond) throw new ProtocolError(code, details)
}
