/**
 * Golden vectors for the block header with its reveal bitset, the reveals a block carries and the registry
 * transition they drive (PROTOCOL.md §3.1, §3.3, §10 steps 12-14, §11 step 2): header.json.
 * Shared by generate.ts and test/protocol/vectors.test.ts, like build.ts.
 */
import {
  HEADER_VERSION, PRESETS, QUORUM_SIZE, ZERO32, applyBlockToRegistry, computeBlockHash, computeQuorum, computeRandomValue,
  computeRegistryRoot, encodeBlock, encodeHeader, fromHex, sha256, toHex, utf8
} from '../../src/protocol/index.ts'
import type { Block, BlockHeader } from '../../src/protocol/index.ts'
import { registryFromJson, twentyRecords, vectorKey } from './build.ts'
import type { RecordJson } from './build.ts'

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
  anchorHeight: number
  anchorTimestamp: number
}

export interface HeaderCase {
  name: string
  /** Secrets of the revealBitset members, in position order. */
  reveals: string[]
  /** randomValue = taggedHash(random tag, reveals...). */
  header: HeaderJson
  /** encodeHeader: 230 bytes. */
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

export interface HeaderVectors {
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
    certRoot: ZERO32,
    anchorHeight: height - 7,
    anchorTimestamp: 1_700_000_000_000 + (height - 7) * 1000
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

export function buildHeaderVectors (): HeaderVectors {
  const records = twentyRecords()
  const height = 500
  const entropy = sha256(utf8('transition/entropy'))
  const quorum = computeQuorum(registryFromJson(records), ZERO32, height, entropy, 0)
  return {
    description: 'Block header (230 bytes: version u8 (= 2), height u64, parentHash 32, timestamp u64, round u8, producer 32, ' +
      'bitset u16, revealBitset u16, randomValue 32, txRoot 32, registryRoot 32, certRoot 32, anchorHeight u64, anchorTimestamp u64; big-endian), its hash ' +
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
