/**
 * An independent reference implementation of the documented rules (PROTOCOL.md), for the golden-vector
 * tests: written from the text with node:crypto SHA-256 and plain JSON records, never calling the protocol
 * code (only its hex helpers and constants).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { ENTROPY_BLOCKS, ENTROPY_LAG, fromHex, toHex } from '../../src/protocol/index.ts'
import type { EntropyCase, RecordJson, RegistryTransitionCase, SenderJson } from './build.ts'
import type { HeaderJson } from './build-header.ts'

export function sha (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}
export function tagged (tag: string, ...parts: Uint8Array[]): Uint8Array {
  const t = Buffer.from(tag, 'utf8')
  return sha(Uint8Array.of(t.length), t, ...parts)
}
export function u32be (n: number): Uint8Array { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }

export class RefPrng {
  private j = 0
  private readonly seed: Uint8Array
  constructor (seed: Uint8Array) { this.seed = seed }
  next (): number {
    const block = tagged('lightpulse/v1/prng', this.seed, u32be(Math.floor(this.j / 8)))
    const word = Buffer.from(block).readUInt32BE((this.j % 8) * 4)
    this.j++
    return word
  }

  uniform (n: number): number {
    const limit = 2 ** 32 - (2 ** 32 % n)
    for (;;) { const x = this.next(); if (x < limit) return x % n }
  }
}

export interface RefRecord { key: Buffer, lvh: number, lvp: number, lrh: number, active: boolean }

export function refRecords (records: RecordJson[], height: number): RefRecord[] {
  return records.map((r) => ({ key: Buffer.from(r.publicKey, 'hex'), lvh: r.lastValidatedHeight, lvp: r.lastValidatedPosition, lrh: r.lastRewardHeight, active: r.activeFrom <= height }))
}
export function refIdleOrder (records: RecordJson[], height: number): RefRecord[] {
  return refRecords(records, height).filter((r) => r.active)
    .sort((a, b) => a.lvh !== b.lvh ? a.lvh - b.lvh : a.lvp !== b.lvp ? a.lvp - b.lvp : Buffer.compare(a.key, b.key))
}
export function refQueueHead (records: RecordJson[], height: number): RefRecord {
  return refRecords(records, height).filter((r) => r.active)
    .sort((a, b) => a.lrh !== b.lrh ? a.lrh - b.lrh : Buffer.compare(a.key, b.key))[0]!
}
export function refQuorum (records: RecordJson[], height: number, entropy: Uint8Array, round: number): { producer: string, validators: string[] } {
  const cand = refIdleOrder(records, height)
  const producer = round === 0
    ? refQueueHead(records, height)
    : cand[new RefPrng(tagged('lightpulse/v1/producer', entropy, Uint8Array.of(round))).uniform(cand.length)]!
  const rest = cand.filter((r) => !r.key.equals(producer.key))
  const partition = Math.max(1, Math.floor((rest.length - 1) / 2))
  const prng = new RefPrng(tagged('lightpulse/v1/quorum', entropy, Uint8Array.of(round)))
  for (let i = 0; i < 11; i++) {
    const k = prng.uniform(Math.min(partition, rest.length - i))
    const t = rest[i]!; rest[i] = rest[i + k]!; rest[i + k] = t
  }
  return { producer: producer.key.toString('hex'), validators: rest.slice(0, 11).map((r) => r.key.toString('hex')) }
}
export function refRegistryRoot (records: RecordJson[], senders: SenderJson[] = []): string {
  const sorted = [...records].sort((a, b) => a.publicKey < b.publicKey ? -1 : 1)
  const parts: Buffer[] = [Buffer.from(u32be(sorted.length))]
  for (const r of sorted) {
    const b = Buffer.alloc(32 + 8 + 8 + 8 + 1 + 8 + 2)
    Buffer.from(r.publicKey, 'hex').copy(b, 0)
    b.writeBigUInt64BE(BigInt(r.registeredHeight), 32)
    b.writeBigUInt64BE(BigInt(r.activeFrom), 40)
    b.writeBigUInt64BE(BigInt(r.lastValidatedHeight), 48)
    b.writeUInt8(r.lastValidatedPosition, 56)
    b.writeBigUInt64BE(BigInt(r.lastRewardHeight), 57)
    b.writeUInt16BE(r.missed, 65)
    parts.push(b)
  }
  const ss = [...senders].sort((a, b) => a.publicKey < b.publicKey ? -1 : 1)
  parts.push(Buffer.from(u32be(ss.length)))
  for (const r of ss) {
    const b = Buffer.alloc(48)
    Buffer.from(r.publicKey, 'hex').copy(b, 0)
    b.writeBigUInt64BE(BigInt(r.lastSeq), 32)
    b.writeBigUInt64BE(BigInt(r.until), 40)
    parts.push(b)
  }
  return toHex(tagged('lightpulse/v1/registry', Buffer.concat(parts)))
}
export function refEntropy (c: EntropyCase): string {
  // Walk back from the parent (depth 0) by parent hash; take depths LAG..LAG+BLOCKS-1; genesis random if none.
  const a = c.ancestry
  const parts: Uint8Array[] = []
  let genesis: Uint8Array | undefined
  for (let depth = 0, i = a.length - 1; i >= 0 && depth < ENTROPY_LAG + ENTROPY_BLOCKS; depth++, i--) {
    if (i < a.length - 1) assert.equal(a[i]!.hash, a[i + 1]!.parentHash)
    if (a[i]!.height === 0) genesis = fromHex(a[i]!.randomValue)
    if (depth >= ENTROPY_LAG) parts.push(fromHex(a[i]!.randomValue))
  }
  if (parts.length === 0) parts.push(genesis!)
  return toHex(tagged('lightpulse/v1/entropy', ...parts))
}

/** §11 as PROTOCOL.md states it (records as JSON): participation from the revealBitset alone. */
export function refApply (c: RegistryTransitionCase): RecordJson[] {
  const preset = c.preset === 'mainnet' ? { maxMissed: 16, activationDelay: 20 } : { maxMissed: 8, activationDelay: 3 }
  const reg = new Map(c.before.map((r) => [r.publicKey, { ...r }]))
  const h = c.height
  // 1. queue head of the registry before the block: active, lowest lastRewardHeight, ties by key.
  const head = [...reg.values()].filter((r) => r.activeFrom <= h)
    .sort((a, b) => a.lastRewardHeight - b.lastRewardHeight || (a.publicKey < b.publicKey ? -1 : 1))[0]!
  head.lastRewardHeight = h
  // 2. every quorum validator, by position: served iff in the revealBitset; 3. candidates for removal.
  const candidates: string[] = []
  c.validators.forEach((key, p) => {
    const r = reg.get(key)!
    r.lastValidatedHeight = h
    r.lastValidatedPosition = p
    r.missed = (c.revealBitset >> p) & 1 ? Math.max(0, r.missed - 1) : r.missed + 1
    if (r.missed >= preset.maxMissed) candidates.push(key)
  })
  let active = [...reg.values()].filter((r) => r.activeFrom <= h + 1).length
  for (const key of candidates) {
    if (active <= 12) break
    reg.delete(key)
    active--
  }
  // 4. registrations.
  for (const key of c.registrations) {
    reg.set(key, { publicKey: key, registeredHeight: h, activeFrom: h + preset.activationDelay, lastValidatedHeight: h, lastValidatedPosition: 0, lastRewardHeight: h, missed: 0 })
  }
  return [...reg.values()].sort((a, b) => a.publicKey < b.publicKey ? -1 : 1)
}

/** The header bytes from the documented layout (PROTOCOL.md §3.1), written field by field. */
export function refHeader (h: HeaderJson): Buffer {
  const b = Buffer.alloc(230)
  b.writeUInt8(h.version, 0)
  b.writeBigUInt64BE(BigInt(h.height), 1)
  Buffer.from(h.parentHash, 'hex').copy(b, 9)
  b.writeBigUInt64BE(BigInt(h.timestamp), 41)
  b.writeUInt8(h.round, 49)
  Buffer.from(h.producer, 'hex').copy(b, 50)
  b.writeUInt16BE(h.bitset, 82)
  b.writeUInt16BE(h.revealBitset, 84)
  Buffer.from(h.randomValue, 'hex').copy(b, 86)
  Buffer.from(h.txRoot, 'hex').copy(b, 118)
  Buffer.from(h.registryRoot, 'hex').copy(b, 150)
  Buffer.from(h.certRoot, 'hex').copy(b, 182)
  b.writeBigUInt64BE(BigInt(h.anchorHeight), 214)
  b.writeBigUInt64BE(BigInt(h.anchorTimestamp), 222)
  return b
}
