/**
 * The client API between a page (or any embedder) and the worker that runs the peer. Everything here is
 * structured-clone safe: plain objects, strings, numbers, Uint8Arrays.
 */
import type { Reply } from './errors.ts'
import type { StartupPhase } from '../peer/startup.ts'
import type { BlockEvent, GenesisEvent, PeerErrorEvent, RejectEvent, ReleaseEvent, RoundEvent, Stage, SyncEvent, StalledEvent } from '../peer/events.ts'

export type TransportName = 'websockets' | 'webtransport' | 'webrtc-direct' | 'webrtc'

export interface ClientConfig {
  /** The network config as written by the devnet/CLI (hex keys). */
  network: { name: string, preset: 'mainnet' | 'devnet', releaseSigners: string[], releaseThreshold: number, genesisValidators: string[] }
  /** Bootstrap multiaddrs with /p2p/ ids (WebSockets, WebTransport, WebRTC-direct). */
  bootstraps: string[]
  /** IndexedDB database name (default: lightpulse-<network id prefix>). */
  storeName?: string
  /** Transports to use; default: every one this browser supports. */
  transports?: TransportName[]
  /** Allow loopback/private addresses and ws:// (local devnets only). */
  local?: boolean
  /**
   * A trusted checkpoint, `<height>:<block hash hex>` of a block you trust (a node you run prints it with each
   * block; the page shows its verified head in this form): the peer starts from that block's state, verified against the hash, instead of verifying every block
   * since genesis. Must be younger than the preset's trusting period (mainnet 14 days, devnet 20 minutes).
   * Default: from genesis, or from the chain this browser stored before.
   */
  checkpoint?: string
  /** Blocks kept in IndexedDB (older ones are pruned as new ones arrive; minimum 64). Default DEFAULT_KEEP_BLOCKS (1024). */
  keepBlocks?: number
  /**
   * Ask the browser to keep this site's storage under storage pressure (`navigator.storage.persist()`, from the
   * page, when `start` is called; not awaited). Chromium decides by site engagement without asking; Firefox shows
   * the user a prompt, so an embedder decides whether to ask. Without it the browser may clear the stored chain
   * and identity when the device runs low on space (the peer then starts afresh). Default false; the lightpulse
   * page asks. `status().store.persisted` says what the browser granted.
   */
  persistStorage?: boolean
}

/** Blocks a browser peer keeps by default: about 17 minutes of devnet, 34 hours of mainnet, under 1 MB. */
export const DEFAULT_KEEP_BLOCKS = 1024

/** How long waitForInclusion waits by default: about a minute of devnet blocks, half a mainnet block. */
export const DEFAULT_INCLUSION_TIMEOUT_MS = 60_000

export interface ConnectionInfo { peer: string, direction: string, transport: string, bootstrap: boolean }

export interface StatusSnapshot {
  running: boolean
  peerId?: string
  network?: string
  head?: { height: number, hash: string, round: number, signers: number, timestamp: number, verifiedAt: number }
  genesis: boolean
  /** A peer said (STATUS) that the network has no genesis yet: the stasis lock is known, not just assumed. */
  lockReported: boolean
  release?: { seen: number, threshold: number }
  round?: { height: number, round: number, stage: Stage, position: number, commits: number, reveals: number, signatures: number, stalled: boolean }
  /** `compared`: the chain was level with (or ahead of) a peer's tip at least once since start. */
  sync: { height: number, target: number, syncing: boolean, compared: boolean }
  connections: ConnectionInfo[]
  mesh: Record<string, number>
  /** `failedAttempts`: dial rounds that reached no bootstrap since the last that reached one (0 while the first is in flight). */
  bootstraps: { configured: number, connected: number, failedAttempts: number }
  transports: TransportName[]
  /**
   * Set while the verified head is stale: no newer block verified although STALE_AFTER_BLOCKS of the
   * preset's longest block times have passed since its timestamp. The moment it became stale (ms since the
   * epoch), so a UI can say "behind since …" instead of showing an old head as current.
   */
  staleSince?: number
  validator?: { publicKey: string, registered: boolean, active: boolean, signed: number, lastDuty?: { height: number, round: number, stage: Stage } }
  /** `firstHeight`: the lowest block height still stored (blocks below were pruned, or precede the checkpoint started from). */
  /** `persisted`: the browser keeps this origin's storage under pressure (navigator.storage.persisted()); absent where unknown. */
  store: { kind: string, error?: string, loadedHeight?: number, discarded?: string, firstHeight?: number, keepBlocks?: number, persisted?: boolean }
  /**
   * Where the verified chain starts: `genesis` (every block verified since the release certificate) or the
   * trusted checkpoint it started from. With a checkpoint configured, `checkpoint` reports its progress.
   */
  startedFrom?: { kind: 'genesis' } | { kind: 'checkpoint', height: number, hash: string }
  checkpoint?: { height: number, hash: string, state: 'waiting' | 'verified' | 'kept' | 'failed', code?: string, peersWithout: number }
  crypto: 'webcrypto' | 'noble'
  /**
   * Where the start-up time went (src/peer/startup.ts): each phase once, in ms since the worker started;
   * `timeOrigin` is the worker's performance.timeOrigin (ms since the epoch), to line phases up with a page's clock.
   */
  startup?: { timeOrigin: number, phases: StartupPhase[] }
  lastError?: { code: string, message: string }
  stats: { rejected: Record<string, number>, accepted: Record<string, number> }
  /**
   * With the peer shared between tabs (the default): 'leader' when this tab runs the peer, 'follower' when
   * another tab of the site does and this one is its client. Absent when this client owns its worker alone.
   */
  tab?: { role: 'leader' | 'follower' }
}

export type ClientEvent =
  | ({ type: 'block' } & BlockEvent)
  | ({ type: 'round' } & RoundEvent)
  | ({ type: 'sync' } & SyncEvent)
  | ({ type: 'genesis' } & GenesisEvent)
  | ({ type: 'release' } & ReleaseEvent)
  | ({ type: 'rejected' } & RejectEvent)
  | ({ type: 'error' } & PeerErrorEvent)
  | ({ type: 'stalled' } & StalledEvent)
  | ({ type: 'log' } & LogEvent)
  | ({ type: 'tx' } & TxEvent)

/**
 * A data transaction in a block this peer just verified (gossip or sync), with its inclusion proof built from
 * that block: what `client.transactions(tag)` yields.
 */
export interface TxEvent {
  tag: string
  /** Sender public key, hex. */
  sender: string
  seq: number
  expires: number
  payload: Uint8Array
  inclusion: TxInclusion
}

/** A log line of the peer (info and warnings). Failures come as `error` events, never as logs. */
export interface LogEvent { level: 'info' | 'warn' | 'error', component: string, message: string, details?: Record<string, unknown> }

/**
 * A transaction shown to be in a block this peer verified itself (PROTOCOL.md §3.12): the block's height and
 * hash, its txRoot, the transaction's position and the block's transaction count, the transaction's bytes
 * (§3.2) and the proof's bytes (§3.12). All hashes and bytes are lowercase hex.
 */
export interface TxInclusion {
  txHash: string
  height: number
  blockHash: string
  txRoot: string
  index: number
  size: number
  tx: string
  proof: string
  /** For a data transaction: its fields decoded from `tx` (payload as bytes). */
  data?: { tag: string, sender: string, seq: number, expires: number, payload: Uint8Array }
}

export interface SubmitOptions {
  /**
   * Sign with this Ed25519 key pair (WebCrypto; it may be non-extractable) instead of the tab's own data key.
   * Default: the tab's data key, created once (non-extractable) and kept in IndexedDB.
   */
  keyPair?: CryptoKeyPair
  /** Blocks from the next height until the transaction expires (0..256). Default 64. */
  expiresIn?: number
}

/** A data transaction signed and handed to the network. */
export interface SubmittedTx { txHash: string, sender: string, seq: number, expires: number, tag: string }

/** A block header this peer verified itself (every field; hashes, keys and bytes lowercase hex). */
export interface VerifiedHeader {
  height: number
  hash: string
  parentHash: string
  timestamp: number
  round: number
  producer: string
  bitset: number
  revealBitset: number
  randomValue: string
  txRoot: string
  registryRoot: string
  certRoot: string
  anchorHeight: number
  anchorTimestamp: number
}

/** What the worker exposes over comlink. */
export interface WorkerApi {
  start: (config: ClientConfig) => Promise<StatusSnapshot>
  stop: () => Promise<void>
  status: () => Promise<StatusSnapshot>
  /** Registers a listener (wrap it with comlink.proxy). Returns an id for unsubscribe. */
  subscribe: (listener: (e: ClientEvent) => void) => Promise<number>
  unsubscribe: (id: number) => Promise<void>
  /** Creates (once) the tab's non-extractable validator key and publishes its registration transaction (its hash: `txHash`). */
  enroll: () => Promise<{ publicKey: string, txHash: string }>
  /** The header of a block this peer verified and holds (BLOCK_NOT_HELD otherwise). */
  header: (height: number) => Promise<VerifiedHeader>
  /** The verified inclusion of a transaction (64 hex digits of its hash), asked of connected peers. */
  getProof: (txHash: string) => Promise<TxInclusion>
  /**
   * Signs a data transaction (tag: 1..32 printable ASCII bytes; payload up to 1,024 bytes) and publishes it.
   * Codes: LOCKED, TX_INVALID (bounds), MEMPOOL_FULL, NO_PEERS (nothing sent: submit again once connected).
   */
  submit: (tag: string, payload: Uint8Array, opts?: SubmitOptions) => Promise<SubmittedTx>
  /** Resolves once a block this peer verified carries the transaction. Codes: INCLUSION_TIMEOUT, TX_EXPIRED, PEER_STOPPED. */
  waitForInclusion: (txHash: string, opts?: { timeout?: number }) => Promise<TxInclusion>
  /** Checks an inclusion (from anywhere) against the header this peer verified. Codes: PROOF_INVALID, HEADER_MISMATCH, BLOCK_NOT_HELD. */
  verifyProof: (inclusion: TxInclusion) => Promise<TxInclusion>
  /** Answers at once: the client's liveness probe after a worker error. */
  ping: () => Promise<'pong'>
  /** The page resumed (or became visible): catch up now rather than at the next poll. */
  resume: () => Promise<void>
}

/** The methods the worker exposes, in this order (the wire contract between client and worker). */
export const WORKER_METHODS = ['start', 'stop', 'status', 'subscribe', 'unsubscribe', 'enroll', 'getProof', 'header', 'submit', 'waitForInclusion', 'verifyProof', 'ping', 'resume'] as const satisfies ReadonlyArray<keyof WorkerApi>

/** The worker's side of the wire: every method answers a Reply instead of throwing. */
export type WireApi = { [K in keyof WorkerApi]: (...args: Parameters<WorkerApi[K]>) => Promise<Reply<Awaited<ReturnType<WorkerApi[K]>>>> }
