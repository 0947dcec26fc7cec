/**
 * Quorum selection, as in Pulse: a pure function of chain data (the registry before the block and
 * ancestor random values walked by parent hash) and the round number.
 */
import { ENTROPY_BLOCKS, ENTROPY_LAG, MIN_ACTIVE_VALIDATORS, QUORUM_SIZE, TAG } from './constants.ts'
import { equals } from './bytes.ts'
import { ProtocolError } from './errors.ts'
import { taggedHash } from './hash.ts'
import { Prng } from './prng.ts'
import { computeIdleOrder, computeQueueHead } from './registry.ts'
import type { Registry } from './registry.ts'
import type { Quorum, ValidatorRecord } from './types.ts'

/** What quorum selection needs to know about an ancestor block. */
export interface AncestorLink {
  hash: Uint8Array
  height: number
  parentHash: Uint8Array
  randomValue: Uint8Array
  timestamp: number
}

/**
 * Entropy for the child of `ancestry[ancestry.length - 1]` (the parent): the random values of the
 * ancestors at depths ENTROPY_LAG .. ENTROPY_LAG + ENTROPY_BLOCKS - 1 from the parent (depth 0), found by
 * following parent hashes, never by height; if the chain is too young for any of them, the genesis seed.
 */
export function computeEntropy (ancestry: readonly AncestorLink[]): Uint8Array {
  const parts: Uint8Array[] = []
  let link = ancestry[ancestry.length - 1]
  let idx = ancestry.length - 1
  let genesisRandom: Uint8Array | undefined
  for (let depth = 0; link !== undefined && depth < ENTROPY_LAG + ENTROPY_BLOCKS; depth++) {
    if (link.height === 0) genesisRandom = link.randomValue
    if (depth >= ENTROPY_LAG) parts.push(link.randomValue)
    if (link.height === 0) break
    const prev = ancestry[idx - 1]
    if (prev === undefined || !equals(prev.hash, link.parentHash)) break
    link = prev
    idx--
  }
  if (parts.length === 0) {
    if (genesisRandom === undefined) throw new ProtocolError('UNKNOWN_PARENT', { reason: 'ancestry too short for entropy' })
    parts.push(genesisRandom)
  }
  return taggedHash(TAG.entropy, ...parts)
}

/**
 * The producer and the 11 validators for block `height` in `round`, from the registry state before the
 * block. Round 0: producer = head of the reward queue. Backup rounds: producer drawn at random from the
 * idle-ordered candidates. Validators: from the remaining candidates in idle order, with
 * partition = floor((n - 1) / 2), for i in 0..10 draw k in [0, min(partition, n - i)) and swap(c[i], c[i + k]).
 */
export function computeQuorum (registry: Registry, parentHash: Uint8Array, height: number, entropy: Uint8Array, round: number): Quorum {
  const cand: ValidatorRecord[] = computeIdleOrder(registry, height)
  if (cand.length < MIN_ACTIVE_VALIDATORS) {
    throw new ProtocolError('NOT_ENOUGH_VALIDATORS', { active: cand.length, required: MIN_ACTIVE_VALIDATORS })
  }
  const roundByte = new Uint8Array([round])
  let producer: ValidatorRecord
  if (round === 0) {
    producer = computeQueueHead(registry, height)!
  } else {
    const prng = new Prng(taggedHash(TAG.producer, entropy, roundByte))
    producer = cand[prng.uniform(cand.length)]!
  }
  const rest = cand.filter((r) => r !== producer)
  const n = rest.length
  const partition = Math.max(1, Math.floor((n - 1) / 2))
  const prng = new Prng(taggedHash(TAG.quorum, entropy, roundByte))
  for (let i = 0; i < QUORUM_SIZE; i++) {
    const k = prng.uniform(Math.min(partition, n - i))
    const a = rest[i]!
    rest[i] = rest[i + k]!
    rest[i + k] = a
  }
  return {
    parentHash,
    height,
    round,
    producer: producer.publicKey,
    validators: rest.slice(0, QUORUM_SIZE).map((r) => r.publicKey)
  }
}
