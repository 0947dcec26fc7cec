/**
 * Protocol constants and the two network presets. Every number a second implementation needs
 * is here; docs/PROTOCOL.md explains each one.
 */

/** Validators in a quorum (Pulse: 11). */
export const QUORUM_SIZE = 11
/** Validator signatures a block needs (Pulse: 7 of 11). */
export const SIGNATURES_REQUIRED = 7
/** Position used by the block producer in round messages (validators use 0..10). */
export const PRODUCER_POSITION = 11
/** Highest valid round number. Round numbers are one byte; 255 means "stalled". */
export const MAX_ROUND = 254
/** Active validators needed to form a quorum plus a producer that is not in it. */
export const MIN_ACTIVE_VALIDATORS = QUORUM_SIZE + 1
/** Entropy for quorum selection: random values of ENTROPY_BLOCKS ancestors starting ENTROPY_LAG back from the parent. */
export const ENTROPY_LAG = 10
export const ENTROPY_BLOCKS = 12
/** Ancestor headers a chain state must keep to compute entropy. */
export const ANCESTRY_WINDOW = ENTROPY_LAG + ENTROPY_BLOCKS

// Encoding limits (bounded decoding: every length and count is finite).
export const HEADER_VERSION = 4
export const HEADER_SIZE = 230
export const MAX_TXS_PER_BLOCK = 256
/** The longest inclusion proof path: ceil(log2(MAX_TXS_PER_BLOCK)). */
export const MAX_PROOF_PATH = 8
/** Largest encoded transaction: a data transaction with the longest tag and payload (1 + 32 + 8 + 8 + 1 + 32 + 2 + 1024 + 64). */
export const MAX_TX_SIZE = 1172
/** Data transactions (PROTOCOL.md §3.13): the application tag is 1..MAX_TAG_SIZE bytes of printable ASCII. */
export const MAX_TAG_SIZE = 32
/** Largest data-transaction payload, bytes. */
export const MAX_PAYLOAD_SIZE = 1024
/** Sum of a block's encoded transactions, bytes: the per-block byte budget. */
export const MAX_BLOCK_TX_BYTES = 131_072
/**
 * A data transaction names the last height it may be included at (`expires`), at most MAX_TX_LIFETIME blocks
 * after the block that includes it. A sender's sequence record is kept until its newest included expiry has
 * passed, so a replay is refused for as long as it could be included, and the record table stays bounded.
 */
export const MAX_TX_LIFETIME = 256
export const MAX_CERT_ENTRIES = 64
export const MAX_RELEASE_SIGNERS = 64
export const MAX_BLOCK_SIZE = HEADER_SIZE + 2 + MAX_TXS_PER_BLOCK * 2 + MAX_BLOCK_TX_BYTES + 1 + QUORUM_SIZE * 65 + 1 + MAX_CERT_ENTRIES * 73 + 1 + QUORUM_SIZE * 32
export const MAX_ROUND_MESSAGE_SIZE = 2 + 32 + 1 + 1 + 2 + QUORUM_SIZE * 32 + 2 + MAX_TXS_PER_BLOCK * 2 + MAX_BLOCK_TX_BYTES + 64
/** Blocks per sync response. */
export const MAX_SYNC_BATCH = 512

export interface Timing {
  /** Target spacing between blocks, ms. */
  targetBlockMs: number
  /** Shortest spacing, used to catch up when behind schedule, ms. */
  minBlockMs: number
  /** Longest spacing before round 0 starts regardless of schedule, ms. */
  maxBlockMs: number
  /** Length of one round, ms. */
  roundMs: number
  /** Upper bounds for each stage's wait inside a round, ms. Stages advance as soon as their messages arrive. */
  commitTimeoutMs: number
  templateTimeoutMs: number
  revealTimeoutMs: number
  signatureTimeoutMs: number
  /** How far in the future a block or message timestamp may be, ms (clock drift). */
  maxClockDriftMs: number
  /** Wait after the M-th release message before forming genesis, so late signers of the same moment are included. */
  releaseSettleMs: number
}

export interface Preset {
  name: 'mainnet' | 'devnet'
  timing: Timing
  /** Blocks between a registration's inclusion and the validator becoming active. */
  activationDelay: number
  /** Missed duties (net of duties served) after which a validator is removed. */
  maxMissed: number
  /**
   * Trusted checkpoints (PROTOCOL.md §3.11). Full peers keep the chain state of every block whose height is a
   * multiple of checkpointInterval, the newest checkpointRetention of them, so they can serve it; a checkpoint
   * whose header is older than trustingPeriodMs is refused (CHECKPOINT_EXPIRED). The retention spans more than
   * the trusting period at the target spacing, so every checkpoint still inside it can be served.
   */
  checkpointInterval: number
  checkpointRetention: number
  trustingPeriodMs: number
}

export const PRESETS: Record<Preset['name'], Preset> = {
  mainnet: {
    name: 'mainnet',
    timing: {
      targetBlockMs: 120_000,
      minBlockMs: 90_000,
      maxBlockMs: 150_000,
      roundMs: 60_000,
      commitTimeoutMs: 10_000,
      templateTimeoutMs: 10_000,
      revealTimeoutMs: 10_000,
      signatureTimeoutMs: 10_000,
      maxClockDriftMs: 5_000,
      releaseSettleMs: 30_000
    },
    activationDelay: 20,
    maxMissed: 16,
    // One a day at the 2-minute target; 15 days kept; trusted for 14 days.
    checkpointInterval: 720,
    checkpointRetention: 15,
    trustingPeriodMs: 14 * 24 * 3600_000
  },
  devnet: {
    name: 'devnet',
    timing: {
      targetBlockMs: 1_000,
      minBlockMs: 750,
      maxBlockMs: 1_500,
      roundMs: 1_000,
      commitTimeoutMs: 200,
      templateTimeoutMs: 200,
      revealTimeoutMs: 200,
      signatureTimeoutMs: 200,
      maxClockDriftMs: 1_000,
      releaseSettleMs: 150
    },
    activationDelay: 3,
    maxMissed: 8,
    // One every 100 s at the 1 s target; 25 minutes kept; trusted for 20 minutes.
    checkpointInterval: 100,
    checkpointRetention: 15,
    trustingPeriodMs: 20 * 60_000
  }
}

/** Domain-separation tags. Every signature and hash is tagged so no two kinds of message can collide. */
export const TAG = {
  network: 'lightpulse/v1/network',
  block: 'lightpulse/v1/block',
  blockSig: 'lightpulse/v1/block-signature',
  tx: 'lightpulse/v1/tx',
  txRoot: 'lightpulse/v1/tx-root',
  txLeaf: 'lightpulse/v1/tx-leaf',
  txNode: 'lightpulse/v1/tx-node',
  registry: 'lightpulse/v1/registry',
  certRoot: 'lightpulse/v1/cert-root',
  register: 'lightpulse/v1/register',
  dataTx: 'lightpulse/v1/data-tx',
  release: 'lightpulse/v1/release',
  resume: 'lightpulse/v1/resume',
  genesisSeed: 'lightpulse/v1/genesis-seed',
  entropy: 'lightpulse/v1/entropy',
  quorum: 'lightpulse/v1/quorum',
  producer: 'lightpulse/v1/producer',
  commit: 'lightpulse/v1/commit',
  random: 'lightpulse/v1/random',
  roundMsg: 'lightpulse/v1/round-message',
  quorumHello: 'lightpulse/v1/quorum-hello',
  prng: 'lightpulse/v1/prng'
} as const
