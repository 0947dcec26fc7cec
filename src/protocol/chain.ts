/**
 * Chain state and its transition: genesis from a release certificate, then processBlock
 * (validate, then apply) for every later block. Pure: state, data and `now` in, new state or a
 * ProtocolError out.
 */
import {
  ANCESTRY_WINDOW, HEADER_VERSION, MAX_ROUND, MIN_ACTIVE_VALIDATORS, PRESETS,
  QUORUM_SIZE, SIGNATURES_REQUIRED, TAG
} from './constants.ts'
import type { Preset } from './constants.ts'
import { ZERO32, equals, toHex } from './bytes.ts'
import { ProtocolError, check } from './errors.ts'
import { encodeHeader, encodeNetworkConfig, encodeTx } from './encoding.ts'
import { merkleRoot } from './merkle.ts'
import { signingMessage, taggedHash } from './hash.ts'
import { computeEntropy, computeQuorum } from './quorum.ts'
import type { AncestorLink } from './quorum.ts'
import { computeQueueHead, computeRegistryRoot, countActive, createGenesisRegistry } from './registry.ts'
import type { Registry } from './registry.ts'
import { computeCertRoot, computeGenesisSeed, validateCertificate } from './certificate.ts'
import { NO_SENDERS, applyBlockToSenders, validateTxSignatures, validateTxs } from './txs.ts'
import type { SenderTable } from './txs.ts'
import { computeRound0Start, computeRoundStart, computeStallTime } from './timing.ts'
import type { ScheduleAnchor } from './timing.ts'
import type { Ed25519Verifier } from './verifier.ts'
import type { Block, BlockHeader, CertEntry, NetworkConfig, Quorum, Transaction, ValidatorRecord } from './types.ts'

export interface ChainState {
  config: NetworkConfig
  networkId: Uint8Array
  preset: Preset
  genesisHash: Uint8Array
  tip: { hash: Uint8Array, header: BlockHeader }
  registry: Registry
  /** Data senders' replay records (txs.ts): committed with the registry in registryRoot. */
  senders: SenderTable
  /**
   * The tip's ancestors (oldest first, tip last), at most ANCESTRY_WINDOW + 1 links, each with its full header:
   * a state encoded from them is bound, header by header, to the tip's hash (checkpoint.ts).
   */
  ancestry: StateLink[]
  anchor: ScheduleAnchor
}

/** An ancestor with the header it was computed from. */
export interface StateLink extends AncestorLink { header: BlockHeader }

export function computeNetworkId (config: NetworkConfig): Uint8Array {
  return taggedHash(TAG.network, encodeNetworkConfig(config))
}

export function computeBlockHash (header: BlockHeader): Uint8Array {
  return taggedHash(TAG.block, encodeHeader(header))
}

/** What a validator signs to endorse a block. */
export function blockSigningMessage (networkId: Uint8Array, blockHash: Uint8Array): Uint8Array {
  return signingMessage(TAG.blockSig, networkId, blockHash)
}

/** A transaction's hash: what the Merkle tree commits to, and what an inclusion proof is asked by. */
export function computeTxHash (tx: Transaction): Uint8Array {
  return taggedHash(TAG.tx, encodeTx(tx))
}

/** The Merkle root of a block's transactions (merkle.ts, PROTOCOL.md §3.12). */
export function computeTxRoot (txs: Transaction[]): Uint8Array {
  return merkleRoot(txs.map(computeTxHash))
}

export function validateNetworkConfig (config: NetworkConfig): void {
  check(config.preset in PRESETS, 'NON_CANONICAL', { field: 'preset', preset: config.preset })
  check(config.releaseSigners.length >= 1, 'RELEASE_INSUFFICIENT', { field: 'releaseSigners', signers: 0 })
  check(config.releaseThreshold >= 1 && config.releaseThreshold <= config.releaseSigners.length, 'RELEASE_INSUFFICIENT',
    { field: 'releaseThreshold', threshold: config.releaseThreshold, signers: config.releaseSigners.length })
  for (const [field, keys] of [['releaseSigners', config.releaseSigners], ['genesisValidators', config.genesisValidators]] as const) {
    keys.forEach((k, index) => { check(k.length === 32, 'NON_CANONICAL', { field, index, size: k.length }) })
    // A key listed twice is one signer (or validator) counted twice: for release signers it would let one
    // key supply two of the M signatures a certificate needs.
    check(new Set(keys.map(toHex)).size === keys.length, 'TX_DUPLICATE', { field })
  }
  check(config.genesisValidators.length >= MIN_ACTIVE_VALIDATORS, 'NOT_ENOUGH_VALIDATORS',
    { active: config.genesisValidators.length, required: MIN_ACTIVE_VALIDATORS })
}

export function linkOf (hash: Uint8Array, h: BlockHeader): StateLink {
  return { hash, height: h.height, parentHash: h.parentHash, randomValue: h.randomValue, timestamp: h.timestamp, header: h }
}

/** The genesis block for a release certificate (already selected: M lowest signer indices, ascending). */
export function createGenesisBlock (config: NetworkConfig, cert: CertEntry[]): Block {
  const networkId = computeNetworkId(config)
  const registry = createGenesisRegistry(config.genesisValidators)
  const header: BlockHeader = {
    version: HEADER_VERSION,
    height: 0,
    parentHash: networkId,
    timestamp: Math.max(...cert.map((c) => c.timestamp)),
    round: 0,
    producer: ZERO32,
    bitset: 0,
    revealBitset: 0,
    randomValue: computeGenesisSeed(networkId, cert),
    txRoot: computeTxRoot([]),
    registryRoot: computeRegistryRoot(registry),
    certRoot: computeCertRoot(cert),
    anchorHeight: 0,
    anchorTimestamp: Math.max(...cert.map((c) => c.timestamp))
  }
  return { header, txs: [], signatures: [], reveals: [], cert }
}

/** Validates a genesis block (its release certificate and every derived field) and returns the initial state. */
export async function processGenesis (config: NetworkConfig, block: Block, verifier: Ed25519Verifier): Promise<ChainState> {
  validateNetworkConfig(config)
  const networkId = computeNetworkId(config)
  check(block.header.height === 0, 'GENESIS_MISMATCH', { field: 'height', height: block.header.height })
  check(block.signatures.length === 0 && block.txs.length === 0 && block.reveals.length === 0, 'GENESIS_MISMATCH', { field: 'body' })
  await validateCertificate(config, networkId, block.cert, 'release', verifier)
  const expected = createGenesisBlock(config, block.cert)
  const hash = computeBlockHash(block.header)
  check(equals(hash, computeBlockHash(expected.header)), 'GENESIS_MISMATCH', { field: 'header' })
  const preset = PRESETS[config.preset]
  return {
    config,
    networkId,
    preset,
    genesisHash: hash,
    tip: { hash, header: block.header },
    registry: createGenesisRegistry(config.genesisValidators),
    senders: NO_SENDERS,
    ancestry: [linkOf(hash, block.header)],
    anchor: { height: 0, timestamp: block.header.timestamp }
  }
}

/**
 * The schedule anchor after a block at `height` stamped `timestamp` on top of `state`: the block itself if it
 * carries a resume certificate, else the state's anchor. Every header commits to it (anchorHeight, anchorTimestamp).
 */
export function computeNextAnchor (state: ChainState, height: number, timestamp: number, resumes: boolean): ScheduleAnchor {
  return resumes ? { height, timestamp } : state.anchor
}

/** Round-0 start of the next block on top of `state` (no resume). */
export function computeNextRound0Start (state: ChainState): number {
  return computeRound0Start(state.preset.timing, state.anchor, state.tip.header.height + 1, state.tip.header.timestamp)
}

/** The time from which the chain on top of `state` counts as stalled. */
export function computeNextStallTime (state: ChainState): number {
  return computeStallTime(state.preset.timing, computeNextRound0Start(state))
}

/** Quorum for the next block in `round` on top of `state`. */
export function computeNextQuorum (state: ChainState, round: number): Quorum {
  check(round >= 0 && round <= MAX_ROUND, 'ROUND_OUT_OF_RANGE', { round, max: MAX_ROUND })
  return computeQuorum(state.registry, state.tip.hash, state.tip.header.height + 1, computeEntropy(state.ancestry), round)
}

export function popcount (bits: number): number {
  let n = 0
  for (let b = bits; b !== 0; b &= b - 1) n++
  return n
}

/** Who took part in a block: the commit bitset the template locked, and the reveal bitset the final message named. */
export interface Participation {
  bitset: number
  revealBitset: number
}

/**
 * The registry after a block at `height` made by `quorum` with `participation` and `txs`.
 * - The head of the reward queue is rewarded (its reward height becomes `height`) in every round:
 *   a backup producer gains only fees, so sabotaging round 0 does not pay.
 * - Every quorum validator goes to the back of the idle line: sort key (height, position).
 * - Participation is judged only from the header: a validator whose position is in the reveal bitset
 *   served (missed -= 1, floor 0); any other missed (missed += 1) — whether it never committed or
 *   committed and then withheld its reveal (commit bitset minus reveal bitset). A validator at
 *   `maxMissed` is removed, unless that would leave fewer than MIN_ACTIVE_VALIDATORS active.
 * - Each registration adds a validator, active `activationDelay` blocks later (data transactions do not touch the registry).
 */
export function applyBlockToRegistry (registry: Registry, preset: Preset, height: number, quorum: Quorum, participation: Participation, txs: Transaction[]): Map<string, ValidatorRecord> {
  const next = new Map(registry)
  const head = computeQueueHead(registry, height)
  if (head !== undefined) next.set(head.id, { ...head, lastRewardHeight: height })
  const removals: string[] = []
  quorum.validators.forEach((key, position) => {
    const id = toHex(key)
    const rec = next.get(id)!
    const served = (participation.revealBitset & (1 << position)) !== 0
    const missed = served ? Math.max(0, rec.missed - 1) : rec.missed + 1
    next.set(id, { ...rec, lastValidatedHeight: height, lastValidatedPosition: position, missed })
    if (missed >= preset.maxMissed) removals.push(id)
  })
  let active = countActive(next, height + 1)
  for (const id of removals) {
    if (active <= MIN_ACTIVE_VALIDATORS) break
    next.delete(id)
    active--
  }
  for (const tx of txs) {
    if (tx.kind !== 'register') continue
    const id = toHex(tx.publicKey)
    next.set(id, {
      publicKey: tx.publicKey, id, registeredHeight: height, activeFrom: height + preset.activationDelay,
      lastValidatedHeight: height, lastValidatedPosition: 0, lastRewardHeight: height, missed: 0
    })
  }
  return next
}

/** Block random value: the tagged hash of the included reveals, in position order. */
export function computeRandomValue (reveals: Uint8Array[]): Uint8Array {
  return taggedHash(TAG.random, ...reveals)
}

/**
 * The reveal rules of a header (block validity and the final message alike): the reveal bitset is a subset
 * of the commit bitset with at least SIGNATURES_REQUIRED members. Throws BITSET_INVALID.
 */
export function validateRevealBitset (bitset: number, revealBitset: number): void {
  check((revealBitset & ~bitset) === 0, 'BITSET_INVALID', { field: 'revealBitset', reason: 'not a subset of the commit bitset', bitset, revealBitset })
  const revealed = popcount(revealBitset)
  check(revealed >= SIGNATURES_REQUIRED, 'BITSET_INVALID', { field: 'revealBitset', revealed, required: SIGNATURES_REQUIRED })
}

/** A block's reveals: one per reveal-bitset member, and the header's random value is exactly their hash. */
function validateReveals (h: BlockHeader, reveals: Uint8Array[]): void {
  validateRevealBitset(h.bitset, h.revealBitset)
  check(reveals.length === popcount(h.revealBitset), 'BITSET_INVALID', { field: 'reveals', reveals: reveals.length, revealBitset: h.revealBitset })
  check(equals(h.randomValue, computeRandomValue(reveals)), 'RANDOM_MISMATCH', { height: h.height })
}

export interface ProcessOptions {
  verifier: Ed25519Verifier
  /** Local time; blocks stamped later than now + maxClockDrift are ignored as FUTURE. Omit when replaying stored blocks. */
  now?: number
}

export interface BlockInfo {
  hash: Uint8Array
  quorum: Quorum
}

/** Checks a block's place in the chain and its timing; returns the round-0 start it was measured from. */
function validateLinkAndTime (state: ChainState, block: Block, resumeTime: number | undefined, now: number | undefined): void {
  const h = block.header
  const tip = state.tip.header
  if (h.height <= tip.height) throw new ProtocolError('STALE', { height: h.height, tip: tip.height })
  if (h.height !== tip.height + 1) throw new ProtocolError('WRONG_HEIGHT', { height: h.height, expected: tip.height + 1 })
  if (!equals(h.parentHash, state.tip.hash)) throw new ProtocolError('UNKNOWN_PARENT', { height: h.height, parent: toHex(h.parentHash).slice(0, 16) })
  check(h.round <= MAX_ROUND, 'ROUND_OUT_OF_RANGE', { round: h.round, max: MAX_ROUND })
  const round0 = resumeTime ?? computeNextRound0Start(state)
  const expected = computeRoundStart(state.preset.timing, round0, h.round)
  check(h.timestamp === expected, 'BAD_TIMESTAMP', { timestamp: h.timestamp, expected, round: h.round })
  if (now !== undefined && h.timestamp > now + state.preset.timing.maxClockDriftMs) {
    throw new ProtocolError('FUTURE', { timestamp: h.timestamp, now })
  }
}

/**
 * Validate-then-apply for a non-genesis block. Cheap checks run first, signatures last.
 * Returns the new state; `state` itself is never modified.
 */
export async function processBlock (state: ChainState, block: Block, opts: ProcessOptions): Promise<{ state: ChainState, info: BlockInfo }> {
  const r = await processBlockDeferred(state, block, opts)
  await r.signatures
  return { state: r.state, info: r.info }
}

/**
 * Like processBlock, but the signature checks are returned as a promise instead of awaited, so a
 * batch of blocks can be checked concurrently (sync). The returned state must be discarded if
 * `signatures` rejects.
 */
export async function processBlockDeferred (state: ChainState, block: Block, opts: ProcessOptions): Promise<{ state: ChainState, info: BlockInfo, signatures: Promise<void> }> {
  const h = block.header
  check(h.version === HEADER_VERSION, 'BAD_VERSION', { version: h.version })
  // Resume certificate: only on the first block after a stall, signed over the stalled tip. Its shape and
  // timing are checked here; its signatures with the other signatures, last.
  let resumeTime: number | undefined
  if (block.cert.length > 0) {
    check(block.cert.length <= state.config.releaseSigners.length, 'TOO_LARGE', { what: 'cert', count: block.cert.length })
    const stall = computeNextStallTime(state)
    for (const c of block.cert) check(c.timestamp >= stall, 'CERT_UNEXPECTED', { reason: 'resume before the chain stalled', timestamp: c.timestamp, stall })
    resumeTime = Math.max(...block.cert.map((c) => c.timestamp))
  }
  check(equals(h.certRoot, block.cert.length > 0 ? computeCertRoot(block.cert) : ZERO32), 'CERT_ROOT_MISMATCH', {})
  validateLinkAndTime(state, block, resumeTime, opts.now)

  const quorum = computeNextQuorum(state, h.round)
  check(equals(h.producer, quorum.producer), 'WRONG_PRODUCER', { round: h.round, producer: toHex(h.producer).slice(0, 16), expected: toHex(quorum.producer).slice(0, 16) })
  const committed = popcount(h.bitset)
  check(committed >= SIGNATURES_REQUIRED, 'BITSET_INVALID', { committed, required: SIGNATURES_REQUIRED })
  validateReveals(h, block.reveals)
  const sigs = block.signatures
  check(sigs.length >= SIGNATURES_REQUIRED, 'QUORUM_INSUFFICIENT', { signed: sigs.length, required: SIGNATURES_REQUIRED })
  let prev = -1
  for (const s of sigs) {
    check(s.index > prev && s.index < QUORUM_SIZE, 'SIGNER_ORDER', { index: s.index, previous: prev })
    check((h.bitset & (1 << s.index)) !== 0, 'SIGNER_NOT_IN_BITSET', { index: s.index, bitset: h.bitset })
    prev = s.index
  }
  check(equals(h.txRoot, computeTxRoot(block.txs)), 'TX_ROOT_MISMATCH', {})
  validateTxs(state.registry, state.senders, h.height, block.txs)
  const registry = applyBlockToRegistry(state.registry, state.preset, h.height, quorum, h, block.txs)
  const senders = applyBlockToSenders(state.senders, h.height, block.txs)
  check(equals(h.registryRoot, computeRegistryRoot(registry, senders)), 'REGISTRY_ROOT_MISMATCH', { height: h.height })
  const anchor = computeNextAnchor(state, h.height, h.timestamp, block.cert.length > 0)
  check(h.anchorHeight === anchor.height && h.anchorTimestamp === anchor.timestamp, 'ANCHOR_MISMATCH',
    { height: h.height, anchorHeight: h.anchorHeight, expected: anchor.height })

  // Expensive checks last.
  const hash = computeBlockHash(h)
  const msg = blockSigningMessage(state.networkId, hash)
  const signatures = (async () => {
    if (block.cert.length > 0) await validateCertificate(state.config, state.networkId, block.cert, 'resume', opts.verifier, state.tip.hash)
    const ok = await Promise.all(sigs.map(async (s) => await opts.verifier.verify(quorum.validators[s.index]!, msg, s.signature)))
    const bad = ok.findIndex((v) => !v)
    if (bad >= 0) throw new ProtocolError('BAD_SIGNATURE', { index: sigs[bad]!.index, height: h.height })
    await validateTxSignatures(state.networkId, block.txs, opts.verifier)
  })()
  signatures.catch(() => {}) // observed by the caller; avoid an unhandled rejection if it drops the promise
  return { state: applyValidatedBlock(state, block, hash, registry, senders), info: { hash, quorum }, signatures }
}

/**
 * Processes consecutive blocks with every block's signature checks in flight at once.
 * All or nothing: throws the first failing block's error (with its height in details).
 * Returns the intermediate states (the last `keepStates` of them if given, default all; the last is the final state).
 */
export async function processBlocks (state: ChainState, blocks: Block[], opts: ProcessOptions & { keepStates?: number }): Promise<{ states: ChainState[], infos: BlockInfo[] }> {
  const states: ChainState[] = []
  const infos: BlockInfo[] = []
  const checks: Array<Promise<void>> = []
  const keep = opts.keepStates ?? Infinity
  let s = state
  for (const b of blocks) {
    const r = await processBlockDeferred(s, b, opts)
    states.push(r.state)
    if (states.length > keep) states.shift()
    infos.push(r.info)
    checks.push(r.signatures)
    s = r.state
  }
  await Promise.all(checks)
  return { states, infos }
}

function applyValidatedBlock (state: ChainState, block: Block, hash: Uint8Array, registry: Registry, senders: SenderTable): ChainState {
  const ancestry = state.ancestry.length > ANCESTRY_WINDOW ? state.ancestry.slice(state.ancestry.length - ANCESTRY_WINDOW) : state.ancestry.slice()
  ancestry.push(linkOf(hash, block.header))
  return {
    ...state,
    tip: { hash, header: block.header },
    registry,
    senders,
    ancestry,
    anchor: { height: block.header.anchorHeight, timestamp: block.header.anchorTimestamp }
  }
}
