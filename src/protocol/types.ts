/** Chain data types. All byte fields are Uint8Array (structured-clone safe across the worker boundary). */
import type { Preset } from './constants.ts'

export type Bytes = Uint8Array

export interface BlockHeader {
  version: number
  height: number
  parentHash: Bytes
  /** ms since the Unix epoch; always the start time of the block's round. */
  timestamp: number
  round: number
  /** Public key of the block producer (all zero for genesis). */
  producer: Bytes
  /** Quorum positions (bit i = validator i) whose commitments the template locked in. */
  bitset: number
  /**
   * Quorum positions whose reveals the producer's final message named: a subset of `bitset` with at least
   * SIGNATURES_REQUIRED members (genesis: 0). Bitset members outside it committed but did not reveal in time.
   */
  revealBitset: number
  /** Block random value: hash of the reveals of the revealBitset members in quorum order (genesis: the genesis seed). */
  randomValue: Bytes
  txRoot: Bytes
  /** Commitment to the validator registry after applying this block. */
  registryRoot: Bytes
  /** Commitment to the release/resume certificate carried by this block (zero if none). */
  certRoot: Bytes
  /**
   * The schedule anchor after this block (genesis, or the last block that resumed a stalled chain): its
   * height and timestamp. Committed so that a chain state taken from one header is fully bound by its hash.
   */
  anchorHeight: number
  anchorTimestamp: number
}

export interface RegisterTx {
  kind: 'register'
  publicKey: Bytes
  /** Ed25519 signature of the key over (register tag, network id, public key). */
  signature: Bytes
}

/**
 * Application data, signed by its sender (PROTOCOL.md §3.13). `seq` orders one sender's transactions (each
 * included one must exceed the last); `expires` is the last height the transaction may be included at.
 */
export interface DataTx {
  kind: 'data'
  /** Ed25519 public key of the sender. */
  sender: Bytes
  seq: number
  expires: number
  /** Application tag: 1..MAX_TAG_SIZE bytes of printable ASCII (0x21..0x7e). */
  tag: string
  /** At most MAX_PAYLOAD_SIZE bytes. */
  payload: Bytes
  /** Ed25519 signature by `sender` over (data-tx tag, network id, the encoding without this field). */
  signature: Bytes
}

export type Transaction = RegisterTx | DataTx

/** A data sender's replay record: the last sequence number included, kept while any of its transactions could still be. */
export interface SenderRecord {
  publicKey: Bytes
  /** Lowercase hex of publicKey (map key). */
  id: string
  lastSeq: number
  /** The highest `expires` of its included transactions: the record is dropped after the block at this height. */
  until: number
}

export interface BlockSignature {
  /** Quorum position 0..10 of the signer. */
  index: number
  signature: Bytes
}

/** One release-signer signature (genesis release certificate or resume certificate). */
export interface CertEntry {
  signer: number
  timestamp: number
  signature: Bytes
}

export interface Block {
  header: BlockHeader
  txs: Transaction[]
  signatures: BlockSignature[]
  /** The secrets of the revealBitset members, in position order (bound by header.randomValue); empty for genesis. */
  reveals: Bytes[]
  /** Release certificate (genesis) or resume certificate (first block after a stall); empty otherwise. */
  cert: CertEntry[]
}

export interface NetworkConfig {
  /** Human name, at most 32 bytes of UTF-8. */
  name: string
  preset: Preset['name']
  /** Ed25519 public keys of the release signers, in signer-index order. */
  releaseSigners: Bytes[]
  /** M: release messages needed to lift the stasis lock (and to resume a stalled chain). */
  releaseThreshold: number
  /** Validators active from height 1. At least MIN_ACTIVE_VALIDATORS. */
  genesisValidators: Bytes[]
}

// Round messages (gossip topic "rounds"). `position` is 0..10 for validators, 11 for the producer.
interface RoundMessageBase {
  parentHash: Bytes
  round: number
  position: number
  /** Ed25519 signature by the sender over the encoded message without this field. */
  signature: Bytes
}
export interface CommitMessage extends RoundMessageBase { kind: 'commit', commitment: Bytes }
export interface TemplateMessage extends RoundMessageBase {
  kind: 'template'
  bitset: number
  /** Commitments of the bitset members, in quorum order. */
  commitments: Bytes[]
  txs: Transaction[]
}
export interface RevealMessage extends RoundMessageBase { kind: 'reveal', secret: Bytes }
export interface SignatureMessage extends RoundMessageBase { kind: 'signature', blockHash: Bytes, blockSignature: Bytes }
/**
 * The producer's decision on the revealed set (position 11): after the template, once every bitset member
 * revealed or revealTimeoutMs passed with at least SIGNATURES_REQUIRED reveals. Carries the reveals
 * themselves, so a validator that missed one can still compute the header.
 */
export interface FinalMessage extends RoundMessageBase {
  kind: 'final'
  /** Positions whose reveals are included: a subset of the template bitset, popcount >= 7. */
  revealBitset: number
  /** Secrets of the revealBitset members, in position order. */
  reveals: Bytes[]
}
export type RoundMessage = CommitMessage | TemplateMessage | RevealMessage | SignatureMessage | FinalMessage

// Release-quorum messages (gossip topic "release").
export interface ReleaseMessage { kind: 'release', signer: number, timestamp: number, signature: Bytes }
export interface ResumeMessage { kind: 'resume', signer: number, timestamp: number, parentHash: Bytes, signature: Bytes }
export type QuorumMessage = ReleaseMessage | ResumeMessage

export interface ValidatorRecord {
  publicKey: Bytes
  /** Lowercase hex of publicKey (map key). */
  id: string
  registeredHeight: number
  activeFrom: number
  lastValidatedHeight: number
  lastValidatedPosition: number
  lastRewardHeight: number
  missed: number
}

export interface Quorum {
  parentHash: Bytes
  height: number
  round: number
  producer: Bytes
  validators: Bytes[]
}
