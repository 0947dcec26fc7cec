/**
 * Golden vector construction, shared by generate.ts (writes the JSON files) and
 * test/protocol/vectors.test.ts (checks the current code reproduces the files exactly).
 * Inputs are fixed here; outputs are computed by the protocol code.
 */
import {
  HEADER_VERSION, PRESETS, Prng, QUORUM_SIZE, TAG, ZERO32, applyBlockToRegistry, computeBlockHash, computeEntropy, computeIdleOrder,
  computeQueueHead, computeQuorum, computeRandomValue, computeRegistryRoot, encodeBlock, encodeHeader, fromHex, sha256, toHex, utf8, concat
} from '../../src/protocol/index.ts'
import type { AncestorLink, Block, BlockHeader, ValidatorRecord } from '../../src/protocol/index.ts'

// ---------- PRNG ----------
export interface PrngCase {
  name: string
  seed: string
  u32: number[]
  uniform: Array<{ n: number, draws: number[] }>
  /** One stream, one draw per bound in order (as quorum selection draws with shrinking bounds). */
  sequence: { ns: number[], draws: number[] }
}

export interface PrngVectors {
  description: string
  tag: string
  cases: PrngCase[]
}

export const PRNG_WORDS = 20
export const UNIFORM_DRAWS = 16
export const UNIFORM_BOUNDS = [1, 2, 3, 5, 7, 10, 11, 12, 13, 100, 1000, 65_537, 2 ** 31 - 1, 2 ** 31 + 1, 3_000_000_000, 2 ** 32 - 1, 2 ** 32]
export const SEQUENCE_BOUNDS = [21, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 8, 2 ** 31 + 1, 1, 7, 2 ** 32, 3]

export const PRNG_SEEDS: Array<{ name: string, seed: Uint8Array }> = [
  { name: 'empty seed', seed: new Uint8Array(0) },
  { name: 'one zero byte', seed: new Uint8Array(1) },
  { name: '32 zero bytes', seed: new Uint8Array(32) },
  { name: '32 0xff bytes', seed: new Uint8Array(32).fill(0xff) },
  { name: 'ascii "lightpulse"', seed: utf8('lightpulse') },
  { name: 'sha256("vector")', seed: sha256(utf8('vector')) },
  { name: '65 bytes 0..64', seed: Uint8Array.from({ length: 65 }, (_, i) => i) }
]

export function computePrngCase (name: string, seed: Uint8Array): PrngCase {
  const words = new Prng(seed)
  const u32 = Array.from({ length: PRNG_WORDS }, () => words.nextU32())
  const uniform = UNIFORM_BOUNDS.map((n) => {
    const p = new Prng(seed)
    return { n, draws: Array.from({ length: UNIFORM_DRAWS }, () => p.uniform(n)) }
  })
  const seq = new Prng(seed)
  return { name, seed: toHex(seed), u32, uniform, sequence: { ns: SEQUENCE_BOUNDS, draws: SEQUENCE_BOUNDS.map((n) => seq.uniform(n)) } }
}

export function buildPrngVectors (): PrngVectors {
  return {
    description: 'Portable PRNG (src/protocol/prng.ts). Word j of the stream is the (j mod 8)-th big-endian u32 of ' +
      'SHA-256(u8(len(tag)) || tag || seed || u32be(floor(j / 8))). uniform(n), 1 <= n <= 2^32: limit = 2^32 - (2^32 mod n); ' +
      'take words until x < limit; return x mod n. "u32": the first words of a fresh stream; "uniform": ' +
      'a fresh stream per bound n, drawing uniform(n) repeatedly; "sequence": one fresh stream, uniform(ns[i]) in order.',
    tag: TAG.prng,
    cases: PRNG_SEEDS.map(({ name, seed }) => computePrngCase(name, seed))
  }
}

// ---------- quorum ----------
export interface RecordJson {
  publicKey: string
  registeredHeight: number
  activeFrom: number
  lastValidatedHeight: number
  lastValidatedPosition: number
  lastRewardHeight: number
  missed: number
}

export interface QuorumCase {
  entropy: string
  parentHash: string
  round: number
  producer: string
  validators: string[]
}

export interface RegistryVectors {
  name: string
  /** Height of the block being made (registry = state before it). */
  height: number
  records: RecordJson[]
  registryRoot: string
  /** Active validators in idle order: (lastValidatedHeight, lastValidatedPosition), ties by public key. */
  idleOrder: string[]
  /** Round-0 producer: active validator with the lowest lastRewardHeight, ties by public key. */
  queueHead: string
  cases: QuorumCase[]
}

export interface EntropyCase {
  name: string
  /** Oldest first, the parent last. */
  ancestry: Array<{ hash: string, height: number, parentHash: string, randomValue: string, timestamp: number }>
  entropy: string
}

export interface QuorumVectors {
  description: string
  registries: RegistryVectors[]
  entropy: EntropyCase[]
}

export const VECTOR_ROUNDS = [0, 1, 2, 254]

export function vectorKey (i: number): Uint8Array {
  return sha256(utf8(`lightpulse-vector-key/${i}`))
}

function rec (i: number, lastValidatedHeight: number, lastValidatedPosition: number, lastRewardHeight: number,
  extra: Partial<RecordJson> = {}): RecordJson {
  return {
    publicKey: toHex(vectorKey(i)), registeredHeight: 0, activeFrom: 1, lastValidatedHeight, lastValidatedPosition,
    lastRewardHeight, missed: i % 5, ...extra
  }
}

/** 20 active validators with varied sort keys (including ties broken by public key) and 2 not yet active. */
export function twentyRecords (): RecordJson[] {
  return [
    // never validated, same key (0, 0): ties by public key
    rec(0, 0, 0, 40), rec(1, 0, 0, 41), rec(2, 0, 0, 42), rec(3, 0, 0, 43),
    // never validated, different positions
    rec(4, 0, 3, 44), rec(5, 0, 1, 45),
    // validated long ago
    rec(6, 120, 10, 3), rec(7, 120, 4, 3), rec(8, 121, 0, 200), rec(9, 250, 6, 201),
    // recently, with (height, position) ties broken by public key
    rec(10, 480, 2, 300), rec(11, 480, 2, 301), rec(12, 480, 7, 302), rec(13, 499, 0, 303),
    rec(14, 499, 10, 304), rec(15, 350, 5, 305),
    // registered later (registration sets every height to the registration height)
    rec(16, 300, 0, 300, { registeredHeight: 300, activeFrom: 320 }),
    rec(17, 460, 0, 460, { registeredHeight: 460, activeFrom: 480 }),
    rec(18, 10, 9, 99), rec(19, 10, 9, 98),
    // not active at height 500: never chosen even though they sort first and have the oldest reward
    rec(20, 0, 0, 0, { registeredHeight: 495, activeFrom: 501 }),
    rec(21, 0, 0, 1, { registeredHeight: 499, activeFrom: 600 })
  ]
}

/** Exactly MIN_ACTIVE_VALIDATORS (12) active: every active validator is in the quorum or produces. */
export function minimumRecords (): RecordJson[] {
  return Array.from({ length: 12 }, (_, i) => rec(100 + i, 40 + (i % 3), i % 11, 30 + ((i * 7) % 12)))
    .concat([rec(200, 0, 0, 0, { registeredHeight: 45, activeFrom: 51 })])
}

export function recordFromJson (j: RecordJson): ValidatorRecord {
  const publicKey = fromHex(j.publicKey)
  return {
    publicKey, id: toHex(publicKey), registeredHeight: j.registeredHeight, activeFrom: j.activeFrom,
    lastValidatedHeight: j.lastValidatedHeight, lastValidatedPosition: j.lastValidatedPosition,
    lastRewardHeight: j.lastRewardHeight, missed: j.missed
  }
}

export function registryFromJson (records: RecordJson[]): Map<string, ValidatorRecord> {
  const reg = new Map<string, ValidatorRecord>()
  for (const r of records) reg.set(r.publicKey, recordFromJson(r))
  return reg
}

export function computeRegistryVectors (name: string, height: number, records: RecordJson[],
  inputs: Array<{ entropy: string, parentHash: string, round: number }>): RegistryVectors {
  const reg = registryFromJson(records)
  return {
    name,
    height,
    records,
    registryRoot: toHex(computeRegistryRoot(reg)),
    idleOrder: computeIdleOrder(reg, height).map((r) => r.id),
    queueHead: computeQueueHead(reg, height)!.id,
    cases: inputs.map(({ entropy, parentHash, round }) => {
      const q = computeQuorum(reg, fromHex(parentHash), height, fromHex(entropy), round)
      return { entropy, parentHash, round, producer: toHex(q.producer), validators: q.validators.map(toHex) }
    })
  }
}

function quorumInputs (label: string): Array<{ entropy: string, parentHash: string, round: number }> {
  const entropies = [toHex(sha256(utf8(`${label}/entropy`))), toHex(new Uint8Array(32))]
  const parentHash = toHex(sha256(utf8(`${label}/parent`)))
  return entropies.flatMap((entropy) => VECTOR_ROUNDS.map((round) => ({ entropy, parentHash, round })))
}

/** A hash-linked synthetic chain of `count` links ending at height `top`. */
export function syntheticAncestry (label: string, top: number, count: number): EntropyCase['ancestry'] {
  const out: EntropyCase['ancestry'] = []
  let parent = toHex(sha256(utf8(`${label}/before-${top - count + 1}`)))
  for (let height = top - count + 1; height <= top; height++) {
    const hash = toHex(sha256(concat(utf8(`${label}/link/`), new Uint8Array([height >> 8, height & 255]))))
    out.push({ hash, height, parentHash: parent, randomValue: toHex(sha256(utf8(`${label}/random/${height}`))), timestamp: 1_700_000_000_000 + height * 1000 })
    parent = hash
  }
  return out
}

export function ancestryFromJson (a: EntropyCase['ancestry']): AncestorLink[] {
  return a.map((l) => ({ hash: fromHex(l.hash), height: l.height, parentHash: fromHex(l.parentHash), randomValue: fromHex(l.randomValue), timestamp: l.timestamp }))
}

export function buildQuorumVectors (): QuorumVectors {
  const entropyCases: Array<{ name: string, ancestry: EntropyCase['ancestry'] }> = [
    { name: 'full window: parent at height 122, 23 links', ancestry: syntheticAncestry('long', 122, 23) },
    { name: 'parent at height 21: ancestors at depths 10..21 reach genesis', ancestry: syntheticAncestry('edge', 21, 22) },
    { name: 'young chain: parent at height 12, depths 10..12 (heights 2, 1, 0)', ancestry: syntheticAncestry('young', 12, 13) },
    { name: 'very young chain: parent at height 4, genesis random only', ancestry: syntheticAncestry('baby', 4, 5) },
    { name: 'genesis is the parent', ancestry: syntheticAncestry('genesis', 0, 1) }
  ]
  return {
    description: 'Quorum selection (src/protocol/quorum.ts, registry.ts). For each registry (the state before the block at ' +
      '"height"), entropy and round: the producer and the 11 validators in quorum order. Round 0 producer = queueHead; ' +
      'backup rounds: producer = idleOrder[uniform(len)] from PRNG(taggedHash(quorum-producer tag, entropy, u8(round))). ' +
      'Validators: idleOrder without the producer; partition = max(1, floor((n-1)/2)); PRNG(taggedHash(quorum tag, entropy, u8(round))); ' +
      'for i in 0..10: k = uniform(min(partition, n-i)); swap(c[i], c[i+k]); take c[0..10]. taggedHash(tag, ...) = ' +
      'SHA-256(u8(len(tag)) || tag || ...). "entropy" cases: computeEntropy over hash-linked ancestors (oldest first, parent last).',
    registries: [
      computeRegistryVectors('twenty active, two pending', 500, twentyRecords(), quorumInputs('twenty')),
      computeRegistryVectors('minimum: exactly 12 active', 50, minimumRecords(), quorumInputs('minimum'))
    ],
    entropy: entropyCases.map(({ name, ancestry }) => ({ name, ancestry, entropy: toHex(computeEntropy(ancestryFromJson(ancestry))) }))
  }
}

export function toJson (v: unknown): string {
  return JSON.stringify(v, null, 2) + '\n'
}

// ---------- block header, reveals and the registry transition ----------
export interface HeaderJson {
  version: number
  height: number
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
}

export interface HeaderCase {
  name: string
  /** Secrets of the revealBitset members, in position order. */
  reveals: string[]
  /** randomValue = taggedHash(random tag, reveals...). */
  header: HeaderJson
  /** encodeHeader: 214 bytes. */
  encoded: string
  /** taggedHash(block tag, encoded). */
  hash: string
  /** encodeBlock of { header, no txs, no signatures, no cert, reveals }: the reveals close the block. */
  block: string
}

export interface TransitionCase {
  name: string
  bitset: number
  revealBitset: number
  /** Overrides of the `missed` counter before the block, by quorum position. */
  missedBefore: Record<string, number>
  /** Each quorum validator's `missed` after the block, in position order; null = removed. */
  missedAfter: Array<number | null>
  registryRoot: string
}

export interface BlockVectors {
  description: string
  headers: HeaderCase[]
  transition: {
    preset: 'devnet'
    registry: string
    height: number
    entropy: string
    round: number
    producer: string
    validators: string[]
    cases: TransitionCase[]
  }
}

export function headerToJson (h: BlockHeader): HeaderJson {
  return { ...h, parentHash: toHex(h.parentHash), producer: toHex(h.producer), randomValue: toHex(h.randomValue), txRoot: toHex(h.txRoot), registryRoot: toHex(h.registryRoot), certRoot: toHex(h.certRoot) }
}

export function headerFromJson (j: HeaderJson): BlockHeader {
  return { ...j, parentHash: fromHex(j.parentHash), producer: fromHex(j.producer), randomValue: fromHex(j.randomValue), txRoot: fromHex(j.txRoot), registryRoot: fromHex(j.registryRoot), certRoot: fromHex(j.certRoot) }
}

const bitsOf = (positions: number[]): number => positions.reduce((b, p) => b | (1 << p), 0)
const allPositions = Array.from({ length: QUORUM_SIZE }, (_, p) => p)

export function computeHeaderCase (name: string, height: number, round: number, bitset: number, revealBitset: number): HeaderCase {
  const reveals = allPositions.filter((p) => (revealBitset & (1 << p)) !== 0).map((p) => sha256(utf8(`${name}/secret/${p}`)))
  const header: BlockHeader = {
    version: HEADER_VERSION,
    height,
    parentHash: sha256(utf8(`${name}/parent`)),
    timestamp: 1_700_000_000_000 + height * 1000 + round * 1000,
    round,
    producer: vectorKey(height),
    bitset,
    revealBitset,
    randomValue: computeRandomValue(reveals),
    txRoot: sha256(utf8(`${name}/txRoot`)),
    registryRoot: sha256(utf8(`${name}/registryRoot`)),
    certRoot: ZERO32
  }
  const block: Block = { header, txs: [], signatures: [], reveals, cert: [] }
  return { name, reveals: reveals.map(toHex), header: headerToJson(header), encoded: toHex(encodeHeader(header)), hash: toHex(computeBlockHash(header)), block: toHex(encodeBlock(block)) }
}

export const TRANSITION_INPUTS: Array<{ name: string, committed: number[], revealed: number[], missedBefore?: Record<string, number> }> = [
  { name: 'all 11 committed and revealed', committed: allPositions, revealed: allPositions },
  { name: 'position 3 committed but did not reveal', committed: allPositions, revealed: allPositions.filter((p) => p !== 3) },
  { name: 'position 3 did not commit (same registry as not revealing)', committed: allPositions.filter((p) => p !== 3), revealed: allPositions.filter((p) => p !== 3) },
  { name: 'positions 0, 1 absent; 5, 9 committed but silent: 7 revealed', committed: allPositions.filter((p) => p > 1), revealed: allPositions.filter((p) => p > 1 && p !== 5 && p !== 9) },
  { name: 'position 3 silent at maxMissed - 1: removed', committed: allPositions, revealed: allPositions.filter((p) => p !== 3), missedBefore: { 3: PRESETS.devnet.maxMissed - 1 } }
]

export function computeTransitionCase (records: RecordJson[], height: number, entropy: Uint8Array, round: number,
  input: typeof TRANSITION_INPUTS[number]): TransitionCase {
  const quorum = computeQuorum(registryFromJson(records), ZERO32, height, entropy, round)
  const before = records.map((r) => {
    const p = quorum.validators.findIndex((k) => toHex(k) === r.publicKey)
    const m = input.missedBefore?.[String(p)]
    return p >= 0 && m !== undefined ? { ...r, missed: m } : r
  })
  const bitset = bitsOf(input.committed)
  const revealBitset = bitsOf(input.revealed)
  const after = applyBlockToRegistry(registryFromJson(before), PRESETS.devnet, height, quorum, { bitset, revealBitset }, [])
  return {
    name: input.name,
    bitset,
    revealBitset,
    missedBefore: input.missedBefore ?? {},
    missedAfter: quorum.validators.map((k) => after.get(toHex(k))?.missed ?? null),
    registryRoot: toHex(computeRegistryRoot(after))
  }
}

export function buildBlockVectors (): BlockVectors {
  const records = twentyRecords()
  const height = 500
  const entropy = sha256(utf8('transition/entropy'))
  const quorum = computeQuorum(registryFromJson(records), ZERO32, height, entropy, 0)
  return {
    description: 'Block header (214 bytes: version u8, height u64, parentHash 32, timestamp u64, round u8, producer 32, ' +
      'bitset u16, revealBitset u16, randomValue 32, txRoot 32, registryRoot 32, certRoot 32; big-endian), its hash ' +
      'taggedHash(block tag, header), randomValue = taggedHash(random tag, reveals of the revealBitset members in position ' +
      'order), and the block encoding with the reveals last (u8 count, 32 bytes each). "transition": applyBlockToRegistry ' +
      'on the "twenty active" registry at height 500 (devnet, maxMissed 8): a validator in the reveal bitset served ' +
      '(missed - 1, floor 0); any other quorum validator missed (missed + 1), whether it did not commit or committed and ' +
      'withheld its reveal; missed >= maxMissed removes it (never below 12 active). The producer/queue head and idle-order ' +
      'updates of the transition are covered by registryRoot.',
    headers: [
      computeHeaderCase('all 11 revealed', 41, 0, 0x7ff, 0x7ff),
      computeHeaderCase('position 4 committed, silent at the reveal', 42, 0, 0x7ff, 0x7ff & ~(1 << 4)),
      computeHeaderCase('positions 0, 1 absent; 5, 9 silent: 7 revealed, backup round', 43, 3, bitsOf(allPositions.filter((p) => p > 1)),
        bitsOf(allPositions.filter((p) => p > 1 && p !== 5 && p !== 9)))
    ],
    transition: {
      preset: 'devnet',
      registry: 'twenty active, two pending (quorum.json)',
      height,
      entropy: toHex(entropy),
      round: 0,
      producer: toHex(quorum.producer),
      validators: quorum.validators.map(toHex),
      cases: TRANSITION_INPUTS.map((input) => computeTransitionCase(records, height, entropy, 0, input))
    }
  }
}
