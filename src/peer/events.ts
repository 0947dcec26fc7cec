/** Events a peer emits. All payloads are structured-clone safe (they cross the worker boundary). */
export interface BlockEvent {
  height: number
  hash: string
  round: number
  timestamp: number
  producer: string
  signers: number[]
  /** Public keys (hex) of the validators whose signatures the block carries. */
  signerKeys: string[]
  bitset: number
  /** Bitset members whose reveals the block includes; the others committed but did not reveal (charged a miss). */
  revealBitset: number
  /** Digest of the quorum this node computed for the block (producer + validators), for agreement checks. */
  quorumDigest: string
  source: 'gossip' | 'sync' | 'local' | 'store'
  /** Local time the block was accepted. */
  acceptedAt: number
}

export type Stage = 'waiting' | 'commit' | 'template' | 'reveal' | 'sign' | 'block' | 'failed'

export interface RoundEvent {
  height: number
  round: number
  stage: Stage
  /** This node's role in the round. */
  role: 'producer' | 'validator' | 'observer'
  position: number
  commits: number
  reveals: number
  signatures: number
  at: number
}

/** `weight`: the rejects this one counts toward blocking its sender (1, or more for large junk: PROTOCOL.md §15). */
export interface RejectEvent { code: string, topic: string, from?: string, action: 'reject' | 'ignore', details?: Record<string, unknown>, weight?: number }
/** Sync progress; `done` once the peer's tip is reached and every block fetched is verified and stored (a reload then resumes from it). */
export interface SyncEvent { from: number, to: number, target: number, peer: string, done: boolean }
export interface GenesisEvent { hash: string, timestamp: number, signers: number[] }
export interface ReleaseEvent { signer: number, seen: number, threshold: number }
export interface PeerErrorEvent { code: string, message: string, details?: Record<string, unknown> }
export interface StalledEvent { height: number, since: number }
/** This peer published a registration for its validator key (missing from the live chain's registry). */
export interface RegisteringEvent { height: number, publicKey: string }

export interface PeerEvents {
  block: BlockEvent
  round: RoundEvent
  rejected: RejectEvent
  sync: SyncEvent
  genesis: GenesisEvent
  release: ReleaseEvent
  error: PeerErrorEvent
  stalled: StalledEvent
  registering: RegisteringEvent
}

type Listener<T> = (detail: T) => void

/** Minimal typed emitter (EventTarget-free so it behaves the same on Node and in workers). */
export class Emitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>()

  on<K extends keyof E>(type: K, fn: Listener<E[K]>): () => void {
    let set = this.listeners.get(type)
    if (set === undefined) { set = new Set(); this.listeners.set(type, set) }
    set.add(fn as Listener<never>)
    return () => { set.delete(fn as Listener<never>) }
  }

  emit<K extends keyof E>(type: K, detail: E[K]): void {
    const set = this.listeners.get(type)
    if (set === undefined) return
    for (const fn of set) {
      try { (fn as Listener<E[K]>)(detail) } catch { /* a listener's failure is its own */ }
    }
  }
}
