/**
 * Golden vector construction, shared by generate.ts (writes the JSON files) and
 * test/protocol/vectors.test.ts (checks the current code reproduces the files exactly).
 * Inputs are fixed here; outputs are computed by the protocol code.
 */
import {
  MAX_TX_LIFETIME, MAX_TX_SIZE, PRESETS, Prng, ProtocolError, TAG, Writer, applyBlockToRegistry, blockSigningMessage, computeBlockHash, computeEntropy,
  computeIdleOrder, computeNextQuorum, computeNextRound0Start, computeNextStallTime, computeQueueHead, computeQuorum,
  computeRegistryRoot, computeRoundStart, decodeBlock, encodeBlock, encodeHeader, encodeTx, fromHex, processBlock, sha256, toHex,
  utf8, concat
} from '../../src/protocol/index.ts'
import type {
  AncestorLink, Block, CertEntry, ChainState, DataTx, Ed25519Verifier, Preset, Registry, SenderTable, ValidatorRecord
} from '../../src/protocol/index.ts'
import {
  buildBlock, buildGenesis, createTestNetwork, dataTx, recomputeRoots, registerTx, resignBlock, signResume, signerFor
} from '../helpers/chain-builder.ts'
import { testSigners } from '../helpers/keys.ts'

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
export interface SenderJson { publicKey: string, lastSeq: number, until: number }

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

// ---------- block validity (PROTOCOL.md §10, §18) ----------
// A fixed network (deterministic test keys), its genesis and a short chain; every case is one block (or
// raw bytes) for the height above that chain's tip, with the code the decoder + processBlock must give.

export interface BlockCase {
  name: string
  /** The §10 step (or §3 decoding rule) the case exercises. */
  rule: string
  /** Local time in ms for the FUTURE check; null = replay (no clock check). */
  now: number | null
  /** The block bytes (hex), decoded with §3.3 then processed on top of the prefix tip. */
  block: string
  /** "valid", or the error code the first failing check throws. */
  expect: string
  /** For valid cases: the block hash and the tip registry after it. */
  hash?: string
  registryAfter?: RecordJson[]
  /** For valid cases: the data senders' records after it (PROTOCOL.md §3.13), sorted by public key. */
  sendersAfter?: SenderJson[]
}

export interface BlockVectors {
  description: string
  network: { name: string, preset: string, releaseThreshold: number, releaseSigners: string[], genesisValidators: string[] }
  networkId: string
  genesis: { block: string, hash: string }
  /** Blocks 1..k, each valid on the one before (processed with no clock check). */
  chain: string[]
  tip: { height: number, hash: string, registryRoot: string, nextRound0Start: number, stallTime: number, registry: RecordJson[], senders: SenderJson[] }
  cases: BlockCase[]
}

export function recordToJson (r: ValidatorRecord): RecordJson {
  return {
    publicKey: r.id, registeredHeight: r.registeredHeight, activeFrom: r.activeFrom, lastValidatedHeight: r.lastValidatedHeight,
    lastValidatedPosition: r.lastValidatedPosition, lastRewardHeight: r.lastRewardHeight, missed: r.missed
  }
}

export function sendersToJson (senders: SenderTable): SenderJson[] {
  return [...senders.keys()].sort().map((id) => { const r = senders.get(id)!; return { publicKey: r.id, lastSeq: r.lastSeq, until: r.until } })
}

export function registryToJson (reg: Registry): RecordJson[] {
  return [...reg.keys()].sort().map((id) => recordToJson(reg.get(id)!))
}

/** Decodes and processes `bytes` on `state`: "valid" or the ProtocolError code. */
export async function blockOutcome (state: ChainState, bytes: Uint8Array, now: number | null, verifier: Ed25519Verifier): Promise<{ code: string, state?: ChainState, hash?: Uint8Array }> {
  try {
    const block = decodeBlock(bytes)
    const r = await processBlock(state, block, now === null ? { verifier } : { verifier, now })
    return { code: 'valid', state: r.state, hash: r.info.hash }
  } catch (err) {
    if (err instanceof ProtocolError) return { code: err.code }
    throw err
  }
}

export async function buildBlockVectors (): Promise<BlockVectors> {
  const net = createTestNetwork({ label: 'vectors' })
  const timing = PRESETS.devnet.timing
  const late = testSigners('vectors/late', 5)
  for (const s of late) net.byKey.set(toHex(s.publicKey), s) // late[0] is active from height 5 and may be chosen
  const genesis = await buildGenesis(net)
  // Block 2 registers late[0] (so registering it again is ALREADY_REGISTERED).
  let S = genesis.state
  const chain: Block[] = []
  for (let h = 1; h <= 5; h++) {
    // Block 4 carries late[4]'s data transaction seq 1, expiring at height 12: the tip keeps its sender record.
    const opts = h === 2 ? { txs: [await registerTx(net, late[0]!)] } : h === 3 ? { round: 2, absent: [1, 5], signers: 8 } : h === 4 ? { signers: 7, txs: [await dataTx(net, late[4]!, { seq: 1, expires: 12, tag: 'board', payload: utf8('hello') })] } : {}
    const b = await buildBlock(net, S, opts)
    S = (await processBlock(S, b, { verifier: net.verifier })).state
    chain.push(b)
  }
  const r0 = computeNextRound0Start(S)
  const stall = computeNextStallTime(S)
  const q0 = computeNextQuorum(S, 0)
  const good = await buildBlock(net, S)
  const hex = (b: Block): string => toHex(encodeBlock(b))
  const tamper = async (mutate: (b: Block) => void | Promise<void>, opts: { from?: Block, roots?: boolean, quorumRound?: number } = {}): Promise<Block> => {
    let b = structuredClone(opts.from ?? good)
    await mutate(b)
    if (opts.roots === true) b = recomputeRoots(S, b)
    return await resignBlock(net, S, b, opts.quorumRound ?? b.header.round)
  }
  const resume = async (signers: number[], offsets: number[], parent = S.tip.hash): Promise<CertEntry[]> =>
    await Promise.all(signers.map(async (i, k) => {
      const m = await signResume(net, i, parent, stall + offsets[k]!)
      return { signer: m.signer, timestamp: m.timestamp, signature: m.signature }
    }))
  const flipped = (sig: Uint8Array, at: number): Uint8Array => { const s = sig.slice(); s[at] = s[at]! ^ 1; return s }
  const header = encodeHeader(good.header)
  const goodBytes = encodeBlock(good)
  const txEntryBlock = (entry: Uint8Array): string => toHex(concat(header, new Writer().u16(1).u16(entry.length).raw(entry).u8(0).u8(0).u8(0).finish()))
  const lateTx = await registerTx(net, late[1]!)
  const forgedTx = { ...lateTx, signature: flipped(lateTx.signature, 5) }
  const resumeOk = await resume([0, 2, 4], [0, 30, 7])
  const partial = await buildBlock(net, S, { absent: [3] })
  const sig3 = await signerFor(net, q0.validators[3]!).sign(blockSigningMessage(net.networkId, computeBlockHash(partial.header)))
  const round1 = await buildBlock(net, S, { round: 1 })
  const againTx = await registerTx(net, late[0]!)
  const genesisValidatorTx = await registerTx(net, net.validators[3]!)
  const next = S.tip.header.height + 1
  const d = async (seq: number, expires: number, tag = 'board', payload = utf8(`post ${seq}`)): Promise<DataTx> => await dataTx(net, late[4]!, { seq, expires, tag, payload })
  const d2 = await dataTx(net, late[3]!, { seq: 7, expires: next, tag: 'raffle/1', payload: new Uint8Array(0) })
  const dataEntry = (patch: (w: Writer) => void): string => { const w = new Writer(); patch(w); return txEntryBlock(w.finish()) }
  const dataBody = (tag: number[], payloadLen: number, seq = 2): (w: Writer) => void => (w) => {
    w.u8(2).fixed(late[4]!.publicKey, 32).u64(seq).u64(next + 1).u8(tag.length).raw(new Uint8Array(tag)).bytes16(new Uint8Array(payloadLen)).fixed(new Uint8Array(64), 64)
  }
  const forgedData = await d(2, next + 5)
  forgedData.signature = flipped(forgedData.signature, 9)

  const specs: Array<{ name: string, rule: string, now?: number, block: Block | string, expect: string }> = [
    // valid
    { name: 'round 0, all 11 signatures', rule: '§10', block: good, expect: 'valid' },
    { name: 'round 0, exactly 7 signatures (positions 0..6)', rule: '§10 step 15', block: { ...good, signatures: good.signatures.slice(0, 7) }, expect: 'valid' },
    { name: 'backup round 1 (random producer)', rule: '§10 steps 8, 10', block: round1, expect: 'valid' },
    { name: 'round 254, the last round', rule: '§10 step 7', block: await buildBlock(net, S, { round: 254, signers: 7, unsignedRoundMessages: true }), expect: 'valid' },
    { name: 'validators 0 and 3 absent (bitset of 9), 9 signatures', rule: '§10 steps 11, 16; §11 step 2', block: await buildBlock(net, S, { absent: [0, 3] }), expect: 'valid' },
    { name: 'two register txs', rule: '§10 step 18; §11 step 4', block: await buildBlock(net, S, { txs: [lateTx, await registerTx(net, late[2]!)] }), expect: 'valid' },
    { name: 'resume certificate (signers 0, 2, 4), round 0: timestamp = certificate time', rule: '§10 steps 2, 8; §12', block: await buildBlock(net, S, { cert: resumeOk }), expect: 'valid' },
    { name: 'resume certificate, round 2: timestamp = certificate time + 2 rounds', rule: '§10 step 8; §12', block: await buildBlock(net, S, { cert: resumeOk, round: 2 }), expect: 'valid' },
    { name: 'clock exactly maxClockDriftMs behind the timestamp', rule: '§10 step 9', now: good.header.timestamp - timing.maxClockDriftMs, block: good, expect: 'valid' },
    { name: 'data txs: a sender with a record (seq 2 and 5, gaps allowed) and a new sender with an empty payload', rule: '§3.13; §10 step 18', block: await buildBlock(net, S, { txs: [await d(2, next + 10), await d(5, next + MAX_TX_LIFETIME), d2] }), expect: 'valid' },
    { name: 'data tx expiring at the inclusion height, next to a registration', rule: '§3.13', block: await buildBlock(net, S, { txs: [lateTx, await d(3, next)] }), expect: 'valid' },
    { name: 'data tx replayed (seq 1 again, as in block 4)', rule: '§3.13 sequence', block: await tamper(async (b) => { b.txs = [await d(1, next + 3)] }, { roots: true }), expect: 'TX_DUPLICATE' },
    { name: 'two data txs of one sender with seq 3 and 3', rule: '§3.13 sequence', block: await tamper(async (b) => { b.txs = [await d(3, next + 3), await d(3, next + 4)] }, { roots: true }), expect: 'TX_DUPLICATE' },
    { name: 'two data txs of one sender with seq 4 then 3', rule: '§3.13 sequence', block: await tamper(async (b) => { b.txs = [await d(4, next + 3), await d(3, next + 3)] }, { roots: true }), expect: 'TX_DUPLICATE' },
    { name: 'data tx expired (expires = height - 1)', rule: '§3.13 expiry', block: await tamper(async (b) => { b.txs = [await d(2, next - 1)] }, { roots: true }), expect: 'TX_INVALID' },
    { name: 'data tx expiring beyond height + MAX_TX_LIFETIME', rule: '§3.13 expiry', block: await tamper(async (b) => { b.txs = [await d(2, next + MAX_TX_LIFETIME + 1)] }, { roots: true }), expect: 'TX_INVALID' },
    { name: 'data tx with a bad signature', rule: '§10 step 20', block: await buildBlock(net, S, { txs: [forgedData] }), expect: 'TX_INVALID' },
    { name: 'data tx tag with a space', rule: '§3.13 decode', block: dataEntry(dataBody([0x61, 0x20, 0x62], 0)), expect: 'NON_CANONICAL' },
    { name: 'data tx tag of 0 bytes', rule: '§3.13 decode', block: dataEntry(dataBody([], 0)), expect: 'NON_CANONICAL' },
    { name: 'data tx tag of 33 bytes', rule: '§3.13 decode', block: dataEntry(dataBody(new Array(33).fill(0x61), 0)), expect: 'TOO_LARGE' },
    { name: 'data tx payload of 1025 bytes', rule: '§3.13 decode', block: dataEntry(dataBody([0x61], 1025)), expect: 'TOO_LARGE' },
    { name: 'data tx with seq 0', rule: '§3.13 decode', block: dataEntry(dataBody([0x61], 1, 0)), expect: 'NON_CANONICAL' },
    // decoding (§3.3)
    { name: 'last byte missing', rule: '§3.3 decode', block: toHex(goodBytes.slice(0, -1)), expect: 'TRUNCATED' },
    { name: 'one trailing byte', rule: '§3.3 decode', block: toHex(concat(goodBytes, new Uint8Array(1))), expect: 'TRAILING_BYTES' },
    { name: 'header version 1 (before the anchor fields)', rule: '§3.1 decode / §10 step 1', block: toHex(patchBytes(goodBytes, 0, [1])), expect: 'BAD_VERSION' },
    { name: 'bitset bit 11 set', rule: '§3.1 decode', block: toHex(patchBytes(goodBytes, 82, [0x08, 0x00])), expect: 'NON_CANONICAL' },
    { name: 'height above 2^53-1', rule: '§3.1 decode', block: toHex(patchBytes(goodBytes, 1, [0, 0x20, 0, 0, 0, 0, 0, 0])), expect: 'NON_CANONICAL' },
    { name: 'txCount 257', rule: '§3.3 decode', block: toHex(concat(header, new Writer().u16(257).finish())), expect: 'TOO_LARGE' },
    { name: 'signature count 12', rule: '§3.3 decode', block: toHex(concat(header, new Writer().u16(0).u8(12).finish())), expect: 'TOO_LARGE' },
    { name: 'certificate count 65', rule: '§3.3 decode', block: toHex(concat(header, new Writer().u16(0).u8(0).u8(65).finish())), expect: 'TOO_LARGE' },
    { name: 'tx entry of 96 bytes', rule: '§3.3 tx entry length', block: txEntryBlock(encodeTx(lateTx).slice(0, 96)), expect: 'TRUNCATED' },
    { name: 'tx entry of 98 bytes', rule: '§3.3 tx entry length', block: txEntryBlock(concat(encodeTx(lateTx), new Uint8Array(1))), expect: 'TRAILING_BYTES' },
    { name: 'tx entry of kind 3', rule: '§3.3 tx entry length', block: txEntryBlock(patchBytes(encodeTx(lateTx), 0, [3])), expect: 'UNKNOWN_KIND' },
    { name: 'tx entry length MAX_TX_SIZE + 1 (1173)', rule: '§3.3 tx entry length', block: toHex(concat(header, new Writer().u16(1).u16(MAX_TX_SIZE + 1).finish())), expect: 'TOO_LARGE' },
    // §10, one rule each
    { name: 'certificate of 6 entries (N = 5)', rule: '§10 step 2', block: await buildBlock(net, S, { cert: await resume([0, 1, 2, 3, 4, 4], [0, 1, 2, 3, 4, 5]) }), expect: 'TOO_LARGE' },
    { name: 'resume certificate entry from before the stall', rule: '§10 step 2', block: await buildBlock(net, S, { cert: await resume([0, 1, 2], [-1, 5, 6]) }), expect: 'CERT_UNEXPECTED' },
    { name: 'certRoot not the carried certificate', rule: '§10 step 3', block: await tamper((b) => { b.header.certRoot = sha256(utf8('x')) }), expect: 'CERT_ROOT_MISMATCH' },
    { name: 'resume block without its certificate', rule: '§10 step 3', block: { ...(await buildBlock(net, S, { cert: resumeOk })), cert: [] }, expect: 'CERT_ROOT_MISMATCH' },
    { name: 'the tip block again (height = tip)', rule: '§10 step 4', block: chain[4]!, expect: 'STALE' },
    { name: 'height tip + 2', rule: '§10 step 5', block: await tamper((b) => { b.header.height += 1 }, { roots: true }), expect: 'WRONG_HEIGHT' },
    { name: 'parent is not the tip', rule: '§10 step 6', block: await tamper((b) => { b.header.parentHash = S.ancestry.at(-2)!.hash }), expect: 'UNKNOWN_PARENT' },
    { name: 'round 255 (decodes)', rule: '§10 step 7', block: await tamper((b) => { b.header.round = 255; b.header.timestamp = computeRoundStart(timing, r0, 255) }, { quorumRound: 0 }), expect: 'ROUND_OUT_OF_RANGE' },
    { name: 'timestamp 1 ms after the round start', rule: '§10 step 8', block: await tamper((b) => { b.header.timestamp += 1 }), expect: 'BAD_TIMESTAMP' },
    { name: 'round 1 block stamped with the round-0 start', rule: '§10 step 8', block: await tamper((b) => { b.header.timestamp = r0 }, { from: round1 }), expect: 'BAD_TIMESTAMP' },
    { name: 'resume block timed by the normal schedule', rule: '§10 step 8', block: await buildBlock(net, S, { cert: resumeOk, round0Start: r0 }), expect: 'BAD_TIMESTAMP' },
    { name: 'clock 1 ms short of timestamp - maxClockDriftMs', rule: '§10 step 9', now: good.header.timestamp - timing.maxClockDriftMs - 1, block: good, expect: 'FUTURE' },
    { name: 'producer is a quorum validator', rule: '§10 step 10', block: await tamper((b) => { b.header.producer = q0.validators[0]! }), expect: 'WRONG_PRODUCER' },
    { name: 'round 1 block relabelled round 0', rule: '§10 step 10', block: await tamper((b) => { b.header.round = 0; b.header.timestamp = r0 }, { from: round1, roots: true, quorumRound: 0 }), expect: 'WRONG_PRODUCER' },
    { name: 'bitset of 6 members', rule: '§10 step 11', block: await tamper((b) => { b.header.bitset = 0b000_0011_1111; b.signatures = b.signatures.filter((s) => s.index < 6) }, { roots: true }), expect: 'BITSET_INVALID' },
    { name: 'position 4 committed and never revealed: 10 reveals, it still signs', rule: '§10 steps 12-14; §11 step 2', block: await buildBlock(net, S, { silent: [4] }), expect: 'valid' },
    { name: 'positions 1, 6 absent; 2, 8 silent: exactly 7 reveals', rule: '§10 steps 12-14', block: await buildBlock(net, S, { absent: [1, 6], silent: [2, 8] }), expect: 'valid' },
    { name: 'revealBitset names position 3, outside the bitset', rule: '§10 step 12', block: await tamper((b) => { b.header.revealBitset |= 1 << 3 }, { from: partial }), expect: 'BITSET_INVALID' },
    { name: 'revealBitset of 6 members (their 6 reveals carried)', rule: '§10 step 12', block: await tamper((b) => { b.header.revealBitset = 0b000_0011_1111; b.reveals = b.reveals.slice(0, 6) }, { roots: true }), expect: 'BITSET_INVALID' },
    { name: '10 reveals carried for a revealBitset of 11', rule: '§10 step 13', block: await tamper((b) => { b.reveals = b.reveals.slice(0, 10) }), expect: 'BITSET_INVALID' },
    { name: 'two carried reveals swapped', rule: '§10 step 14', block: await tamper((b) => { b.reveals = [b.reveals[1]!, b.reveals[0]!, ...b.reveals.slice(2)] }), expect: 'RANDOM_MISMATCH' },
    { name: '6 signatures', rule: '§10 step 15', block: { ...good, signatures: good.signatures.slice(0, 6) }, expect: 'QUORUM_INSUFFICIENT' },
    { name: 'signatures 1, 0, 2.. (not ascending)', rule: '§10 step 16', block: { ...good, signatures: [good.signatures[1]!, good.signatures[0]!, ...good.signatures.slice(2)] }, expect: 'SIGNER_ORDER' },
    { name: 'signature index 11', rule: '§10 step 16', block: { ...good, signatures: [...good.signatures.slice(0, 7), { index: 11, signature: good.signatures[7]!.signature }] }, expect: 'SIGNER_ORDER' },
    { name: 'a real signature from position 3, outside the bitset', rule: '§10 step 16', block: { ...partial, signatures: [...partial.signatures.filter((s) => s.index < 3), { index: 3, signature: sig3 }, ...partial.signatures.filter((s) => s.index > 3)] }, expect: 'SIGNER_NOT_IN_BITSET' },
    { name: 'txRoot of other txs', rule: '§10 step 17', block: await tamper((b) => { b.header.txRoot = sha256(utf8('x')) }), expect: 'TX_ROOT_MISMATCH' },
    { name: 'the same registration twice', rule: '§10 step 18', block: await tamper((b) => { b.txs = [lateTx, lateTx] }, { roots: true }), expect: 'TX_DUPLICATE' },
    { name: 'registration of the key registered at height 2', rule: '§10 step 18', block: await tamper((b) => { b.txs = [againTx] }, { roots: true }), expect: 'ALREADY_REGISTERED' },
    { name: 'registration of a genesis validator', rule: '§10 step 18', block: await tamper((b) => { b.txs = [genesisValidatorTx] }, { roots: true }), expect: 'ALREADY_REGISTERED' },
    { name: 'registryRoot of the state before the block', rule: '§10 step 19', block: await tamper((b) => { b.header.registryRoot = S.tip.header.registryRoot }), expect: 'REGISTRY_ROOT_MISMATCH' },
    { name: 'registryRoot computed with another bitset', rule: '§10 step 19', block: await tamper((b) => { b.header.registryRoot = good.header.registryRoot }, { from: await buildBlock(net, S, { absent: [0] }) }), expect: 'REGISTRY_ROOT_MISMATCH' },
    { name: 'resume certificate of 2 entries (M = 3)', rule: '§10 step 20 / §4.1', block: await buildBlock(net, S, { cert: await resume([1, 3], [0, 0]) }), expect: 'RELEASE_INSUFFICIENT' },
    { name: 'resume certificate signers 2, 0, 1', rule: '§10 step 20 / §4.1', block: await buildBlock(net, S, { cert: await resume([2, 0, 1], [0, 1, 2]) }), expect: 'SIGNER_ORDER' },
    { name: 'resume certificate with signer index 7 (N = 5)', rule: '§10 step 20 / §4.1', block: await buildBlock(net, S, { cert: [...(await resume([0, 1], [0, 1])), { signer: 7, timestamp: stall + 2, signature: resumeOk[0]!.signature }] }), expect: 'NOT_A_RELEASE_SIGNER' },
    { name: 'resume certificate over the parent of the tip', rule: '§10 step 20 / §4.1', block: await buildBlock(net, S, { cert: await resume([0, 1, 2], [0, 1, 2], S.ancestry.at(-2)!.hash) }), expect: 'RELEASE_INVALID' },
    { name: 'one flipped block signature bit', rule: '§10 step 20', block: { ...good, signatures: good.signatures.map((s, i) => i === 5 ? { ...s, signature: flipped(s.signature, 17) } : s) }, expect: 'BAD_SIGNATURE' },
    { name: 'randomValue changed, original signatures', rule: '§10 step 14', block: { ...good, header: { ...good.header, randomValue: sha256(utf8('other random')) } }, expect: 'RANDOM_MISMATCH' },
    { name: 'a register tx with a bad signature', rule: '§10 step 20', block: await buildBlock(net, S, { txs: [forgedTx] }), expect: 'TX_INVALID' },
    // two faults: the earlier check decides
    { name: 'height = tip and unknown parent', rule: 'order: step 4 before 6', block: await tamper((b) => { b.header.height = S.tip.header.height; b.header.parentHash = sha256(utf8('elsewhere')) }, { roots: true }), expect: 'STALE' },
    { name: 'bad timestamp and wrong producer', rule: 'order: step 8 before 10', block: await tamper((b) => { b.header.timestamp += 1; b.header.producer = q0.validators[0]! }), expect: 'BAD_TIMESTAMP' },
    { name: 'wrong producer and 6 signatures', rule: 'order: step 10 before 15', block: { ...(await tamper((b) => { b.header.producer = q0.validators[0]! })), signatures: good.signatures.slice(0, 6) }, expect: 'WRONG_PRODUCER' },
    { name: 'wrong registryRoot and a flipped block signature', rule: 'order: step 19 before 20', block: { ...good, header: { ...good.header, registryRoot: S.tip.header.registryRoot } }, expect: 'REGISTRY_ROOT_MISMATCH' },
    { name: 'bad tx signature and a flipped block signature', rule: 'order in step 20: block signatures before txs', block: await (async () => { const b = await buildBlock(net, S, { txs: [forgedTx] }); return { ...b, signatures: b.signatures.map((s, i) => i === 0 ? { ...s, signature: flipped(s.signature, 3) } : s) } })(), expect: 'BAD_SIGNATURE' },
    { name: 'bad resume signature and a flipped block signature', rule: 'order in step 20: certificate first', block: await (async () => { const cert = await resume([0, 1, 2], [0, 1, 2]); cert[1] = { ...cert[1]!, signature: flipped(cert[1]!.signature, 0) }; const b = await buildBlock(net, S, { cert }); return { ...b, signatures: b.signatures.map((s, i) => i === 0 ? { ...s, signature: flipped(s.signature, 3) } : s) } })(), expect: 'RELEASE_INVALID' }
  ]

  const cases: BlockCase[] = []
  for (const spec of specs) {
    const bytes = typeof spec.block === 'string' ? fromHex(spec.block) : encodeBlock(spec.block)
    const now = spec.now ?? null
    const out = await blockOutcome(S, bytes, now, net.verifier)
    if (out.code !== spec.expect) throw new Error(`block vector "${spec.name}": expected ${spec.expect}, got ${out.code}`)
    const c: BlockCase = { name: spec.name, rule: spec.rule, now, block: toHex(bytes), expect: out.code }
    if (out.state !== undefined) { c.hash = toHex(out.hash!); c.registryAfter = registryToJson(out.state.registry); c.sendersAfter = sendersToJson(out.state.senders) }
    cases.push(c)
  }
  const names = new Set(cases.map((c) => c.name))
  if (names.size !== cases.length) throw new Error('block vector names must be unique')
  return {
    description: 'Block validity (PROTOCOL.md §10, §18). Load "network" (JSON as in §2), check networkId, process "genesis" (§4), then ' +
      'every block of "chain" in order with no clock check: the state must end at "tip". Then, for every case, on that tip state: ' +
      'decode "block" (§3.3) and process it (§10) with local time "now" (null: no FUTURE check). The first failing check must throw ' +
      '"expect"; "valid" cases must give "hash" and the registry "registryAfter" (records sorted by public key). Cases are independent: ' +
      'each starts from the tip state.',
    network: { name: net.config.name, preset: net.config.preset, releaseThreshold: net.config.releaseThreshold, releaseSigners: net.config.releaseSigners.map(toHex), genesisValidators: net.config.genesisValidators.map(toHex) },
    networkId: toHex(net.networkId),
    genesis: { block: toHex(encodeBlock(genesis.block)), hash: toHex(genesis.state.tip.hash) },
    chain: chain.map(hex),
    tip: { height: S.tip.header.height, hash: toHex(S.tip.hash), registryRoot: toHex(S.tip.header.registryRoot), nextRound0Start: r0, stallTime: stall, registry: registryToJson(S.registry), senders: sendersToJson(S.senders) },
    cases
  }
}

function patchBytes (bytes: Uint8Array, offset: number, value: number[]): Uint8Array {
  const out = bytes.slice()
  out.set(value, offset)
  return out
}

// ---------- registry transition (PROTOCOL.md §11, §18) ----------
export interface RegistryTransitionCase {
  name: string
  preset: Preset['name']
  /** Height of the block being applied. */
  height: number
  /** The registry before the block (sorted by public key) and its root. */
  before: RecordJson[]
  rootBefore: string
  /** The block's quorum (§7 gives it for a real block; here it is an input): producer and positions 0..10. */
  producer: string
  validators: string[]
  /** Positions that committed (header bitset) and, of those, the ones whose reveals the block carries. */
  bitset: number
  revealBitset: number
  /** Public keys of the block's register txs, in block order. */
  registrations: string[]
  /** computeQueueHead(before, height), for reference. */
  queueHead: string
  after: RecordJson[]
  rootAfter: string
}

export interface RegistryTransitionVectors {
  description: string
  cases: RegistryTransitionCase[]
}

const regKey = (i: number): string => toHex(vectorKey(1000 + i))

function regRec (i: number, o: Partial<RecordJson> = {}): RecordJson {
  return { publicKey: regKey(i), registeredHeight: 0, activeFrom: 1, lastValidatedHeight: 10 + i, lastValidatedPosition: i % 11, lastRewardHeight: 20 + i, missed: 0, ...o }
}

type RegistryTransitionInput = Omit<RegistryTransitionCase, 'rootBefore' | 'queueHead' | 'after' | 'rootAfter' | 'before' | 'revealBitset'> & { before: RecordJson[], revealBitset?: number }

/** Applies §11; `revealBitset` defaults to `bitset` (every committed member revealed). */
export function computeRegistryTransition (c: RegistryTransitionInput): RegistryTransitionCase {
  const revealBitset = c.revealBitset ?? c.bitset
  const reg = registryFromJson(c.before)
  const quorum = { parentHash: new Uint8Array(32), height: c.height, round: 0, producer: fromHex(c.producer), validators: c.validators.map(fromHex) }
  const txs = c.registrations.map((k) => ({ kind: 'register' as const, publicKey: fromHex(k), signature: new Uint8Array(64) }))
  const after = applyBlockToRegistry(reg, PRESETS[c.preset], c.height, quorum, { bitset: c.bitset, revealBitset }, txs)
  return {
    name: c.name, preset: c.preset, height: c.height,
    before: registryToJson(reg), rootBefore: toHex(computeRegistryRoot(reg)),
    producer: c.producer, validators: c.validators, bitset: c.bitset, revealBitset, registrations: c.registrations,
    queueHead: computeQueueHead(reg, c.height)!.id,
    after: registryToJson(after), rootAfter: toHex(computeRegistryRoot(after))
  }
}

export function registryTransitionInputs (): RegistryTransitionInput[] {
  const H = 100
  const twenty = Array.from({ length: 20 }, (_, i) => regRec(i))
  // Record 7 has the oldest reward: the queue head. Some missed counts set for the cases below.
  const withHead = twenty.map((r, i) => i === 7 ? { ...r, lastRewardHeight: 3 } : r)
  const keys = (ids: number[]): string[] => ids.map(regKey)
  const q = keys([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]) // head (7) not in the quorum
  const all = 0x7ff
  const maxMissed = PRESETS.devnet.maxMissed
  return [
    { name: 'round 0: the head produces; every validator served', preset: 'devnet', height: H, before: withHead, producer: regKey(7), validators: q, bitset: all, registrations: [] },
    { name: 'position 3 committed and withheld its reveal: charged like an absent one', preset: 'devnet', height: H,
      before: withHead.map((r, i) => i === 3 ? { ...r, missed: 2 } : r), producer: regKey(7), validators: q, bitset: all, revealBitset: all & ~(1 << 3), registrations: [] },
    { name: 'position 3 silent at maxMissed - 1: removed', preset: 'devnet', height: H,
      before: withHead.map((r, i) => i === 3 ? { ...r, missed: maxMissed - 1 } : r), producer: regKey(7), validators: q, bitset: all, revealBitset: all & ~(1 << 3), registrations: [] },
    { name: 'positions 1 and 4 absent; served counts decrement, floor 0', preset: 'devnet', height: H,
      before: withHead.map((r, i) => i === 0 ? { ...r, missed: 3 } : i === 1 ? { ...r, missed: 2 } : r), producer: regKey(7), validators: q, bitset: all & ~(1 << 1) & ~(1 << 4), registrations: [] },
    { name: 'backup round: the queue head sits at position 5 and serves (reward, then validation)', preset: 'devnet', height: H,
      before: withHead, producer: regKey(12), validators: keys([0, 1, 2, 3, 4, 7, 6, 8, 9, 10, 11]), bitset: all, registrations: [] },
    { name: 'backup round: the queue head sits at position 5 and is absent', preset: 'devnet', height: H,
      before: withHead.map((r, i) => i === 7 ? { ...r, missed: 2 } : r), producer: regKey(12), validators: keys([0, 1, 2, 3, 4, 7, 6, 8, 9, 10, 11]), bitset: all & ~(1 << 5), registrations: [] },
    { name: 'two validators reach maxMissed: both removed (20 active)', preset: 'devnet', height: H,
      before: withHead.map((r, i) => i === 2 || i === 9 ? { ...r, missed: maxMissed - 1 } : r), producer: regKey(7), validators: q, bitset: all & ~(1 << 2) & ~(1 << 8), registrations: [] },
    { name: 'a validator outside the quorum above maxMissed is not removed', preset: 'devnet', height: H,
      before: withHead.map((r, i) => i === 15 ? { ...r, missed: maxMissed + 3 } : r), producer: regKey(7), validators: q, bitset: all, registrations: [] },
    { name: 'a served validator at maxMissed + 1 drops to maxMissed and is removed', preset: 'devnet', height: H,
      before: withHead.map((r, i) => i === 3 ? { ...r, missed: maxMissed + 1 } : r), producer: regKey(7), validators: q, bitset: all, registrations: [] },
    { name: 'floor: 13 active, two reach maxMissed: only the first in position order goes', preset: 'devnet', height: H,
      before: withHead.slice(0, 13).map((r, i) => i === 9 || i === 4 ? { ...r, missed: maxMissed - 1 } : r), producer: regKey(7), validators: q, bitset: all & ~(1 << 4) & ~(1 << 8), registrations: [] },
    { name: 'floor: 12 active: nobody is removed', preset: 'devnet', height: H,
      before: withHead.slice(0, 12).map((r, i) => i === 4 ? { ...r, missed: maxMissed - 1 } : r), producer: regKey(7), validators: q, bitset: all & ~(1 << 4), registrations: [] },
    { name: 'floor counts a record that becomes active at h + 1 (12 active at h, 13 at h + 1: one removal)', preset: 'devnet', height: H,
      before: [...withHead.slice(0, 12).map((r, i) => i === 4 ? { ...r, missed: maxMissed - 1 } : r), regRec(30, { registeredHeight: H + 1 - 3, activeFrom: H + 1, lastValidatedHeight: H - 2, lastRewardHeight: H - 2 })],
      producer: regKey(7), validators: q, bitset: all & ~(1 << 4), registrations: [] },
    { name: 'floor is counted before this block\'s registrations (12 active, 2 registrations: nobody removed)', preset: 'devnet', height: H,
      before: withHead.slice(0, 12).map((r, i) => i === 4 ? { ...r, missed: maxMissed - 1 } : r), producer: regKey(7), validators: q, bitset: all & ~(1 << 4), registrations: keys([40, 41]) },
    { name: 'three registrations, in block order', preset: 'devnet', height: H,
      before: withHead, producer: regKey(7), validators: q, bitset: all, registrations: keys([43, 42, 44]) },
    { name: 'mainnet preset: maxMissed 16, activationDelay 20', preset: 'mainnet', height: H,
      before: withHead.map((r, i) => i === 2 ? { ...r, missed: PRESETS.mainnet.maxMissed - 1 } : i === 3 ? { ...r, missed: maxMissed - 1 } : r), producer: regKey(7), validators: q, bitset: all & ~(1 << 2) & ~(1 << 3), registrations: keys([45]) },
    { name: 'pending validators (activeFrom > h) are neither the queue head nor counted active', preset: 'devnet', height: H,
      before: [...withHead, regRec(31, { registeredHeight: H - 1, activeFrom: H + 2, lastRewardHeight: 0 })], producer: regKey(7), validators: q, bitset: all, registrations: [] }
  ]
}

export function buildRegistryTransitionVectors (): RegistryTransitionVectors {
  return {
    description: 'Registry transition (PROTOCOL.md §11, §18; src/protocol/chain.ts applyBlockToRegistry). For each case: the registry ' +
      '"before" (must hash to "rootBefore", §3.7), the block height, its quorum ("validators" = positions 0..10; "producer" for reference: ' +
      'the transition does not use it), the bitset, the revealBitset (participation is judged from it alone: a member that committed and withheld its reveal is charged like one that never committed) and the public keys of its register txs in block order. Apply §11 with the named ' +
      'preset (maxMissed, activationDelay): the result must equal "after" (records sorted by public key; removed keys are absent) and ' +
      'hash to "rootAfter". "queueHead" is computeQueueHead(before, height). The inputs need not come from a valid chain (the ' +
      'quorum is given, not selected), so each rule can be shown alone.',
    cases: registryTransitionInputs().map(computeRegistryTransition)
  }
}
