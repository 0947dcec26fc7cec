/**
 * Chain states (PROTOCOL.md §3.8, §3.11): their canonical encoding, and their decoding with every consistency
 * check that binds the whole state to the tip header's hash:
 * - the ancestry is full headers, hash-linked up to the tip, as long as the entropy walk needs, so every random
 *   value that feeds quorum selection is bound by the tip's hash;
 * - the registry hashes to the tip header's registryRoot;
 * - the schedule anchor is the one the tip header commits to (anchorHeight, anchorTimestamp).
 * A state decoded from our own store is one we computed; a state served for a trusted checkpoint is checked
 * against the checkpoint's hash by verifyTrustedState, and then the peer verifies forward from it, block by block.
 */
import { ANCESTRY_WINDOW, HEADER_SIZE, MAX_TX_LIFETIME, MAX_TXS_PER_BLOCK, PRESETS } from './constants.ts'
import { Reader, Writer, ZERO32, equals, fromHex, toHex } from './bytes.ts'
import { ProtocolError, check } from './errors.ts'
import { writeHeader, decodeHeader } from './encoding.ts'
import { computeBlockHash, computeNetworkId, linkOf, processGenesis } from './chain.ts'
import type { ChainState, StateLink } from './chain.ts'
import { computeRegistryRoot, encodeRecord, encodeSenderRecord } from './registry.ts'
import type { Ed25519Verifier } from './verifier.ts'
import type { Block, NetworkConfig, SenderRecord, ValidatorRecord } from './types.ts'

const CHECKPOINT_VERSION = 3
const MAX_REGISTRY = 1_000_000
/** The most sender records a state can hold: every transaction of MAX_TX_LIFETIME blocks from its own sender. */
export const MAX_SENDERS = MAX_TX_LIFETIME * MAX_TXS_PER_BLOCK
/** Largest encoded state a peer accepts: MAX_REGISTRY validator records and MAX_SENDERS sender records. */
export const MAX_STATE_SIZE = 1 + 32 + 32 + 1 + (ANCESTRY_WINDOW + 1) * HEADER_SIZE + 4 + MAX_REGISTRY * 67 + 4 + MAX_SENDERS * 48

/** A trusted checkpoint: a block, named by height and hash, whose chain state a peer may start from. */
export interface TrustedCheckpoint { height: number, hash: Uint8Array }

export function encodeChainState (s: ChainState): Uint8Array {
  const w = new Writer(512 + s.registry.size * 67 + s.senders.size * 48 + s.ancestry.length * HEADER_SIZE)
  w.u8(CHECKPOINT_VERSION).fixed(s.networkId, 32).fixed(s.genesisHash, 32)
  w.u8(s.ancestry.length)
  for (const a of s.ancestry) writeHeader(w, a.header)
  w.u32(s.registry.size)
  for (const id of [...s.registry.keys()].sort()) encodeRecord(w, s.registry.get(id)!)
  w.u32(s.senders.size)
  for (const id of [...s.senders.keys()].sort()) encodeSenderRecord(w, s.senders.get(id)!)
  return w.finish()
}

/** Decodes and checks a chain state; every failure is CHECKPOINT_INVALID with the reason in its details. */
export function decodeChainState (config: NetworkConfig, bytes: Uint8Array): ChainState {
  try {
    return decodeUnchecked(config, bytes)
  } catch (err) {
    if (err instanceof ProtocolError && err.code === 'CHECKPOINT_INVALID') throw err
    throw new ProtocolError('CHECKPOINT_INVALID', { reason: err instanceof ProtocolError ? err.code : String(err) })
  }
}

function invalid (cond: boolean, reason: string, details: Record<string, unknown> = {}): asserts cond {
  check(cond, 'CHECKPOINT_INVALID', { reason, ...details })
}

function decodeUnchecked (config: NetworkConfig, bytes: Uint8Array): ChainState {
  const r = new Reader(bytes, 'checkpoint')
  check(r.u8('version') === CHECKPOINT_VERSION, 'BAD_VERSION', { what: 'checkpoint' })
  const networkId = r.fixed(32, 'networkId')
  check(equals(networkId, computeNetworkId(config)), 'GENESIS_MISMATCH', { what: 'checkpoint network' })
  const genesisHash = r.fixed(32, 'genesisHash')
  const na = r.count(1, ANCESTRY_WINDOW + 1, 'ancestry')
  const ancestry: StateLink[] = []
  for (let i = 0; i < na; i++) {
    const header = decodeHeader(r.fixed(HEADER_SIZE, 'ancestor'))
    ancestry.push(linkOf(computeBlockHash(header), header))
  }
  const n = r.u32('registrySize')
  check(n <= MAX_REGISTRY, 'TOO_LARGE', { what: 'registry', count: n })
  const registry = new Map<string, ValidatorRecord>()
  let prevId = ''
  for (let i = 0; i < n; i++) {
    const publicKey = r.fixed(32, 'publicKey')
    const rec: ValidatorRecord = {
      publicKey, id: toHex(publicKey), registeredHeight: r.u64('registeredHeight'), activeFrom: r.u64('activeFrom'),
      lastValidatedHeight: r.u64('lastValidatedHeight'), lastValidatedPosition: r.u8('lastValidatedPosition'),
      lastRewardHeight: r.u64('lastRewardHeight'), missed: r.u16('missed')
    }
    check(rec.id > prevId, 'NON_CANONICAL', { what: 'registry order', index: i })
    prevId = rec.id
    registry.set(rec.id, rec)
  }
  const ns = r.u32('senderCount')
  check(ns <= MAX_SENDERS, 'TOO_LARGE', { what: 'senders', count: ns })
  const senders = new Map<string, SenderRecord>()
  prevId = ''
  for (let i = 0; i < ns; i++) {
    const publicKey = r.fixed(32, 'sender')
    const rec: SenderRecord = { publicKey, id: toHex(publicKey), lastSeq: r.u64('lastSeq'), until: r.u64('until') }
    check(rec.id > prevId, 'NON_CANONICAL', { what: 'sender order', index: i })
    prevId = rec.id
    senders.set(rec.id, rec)
  }
  r.end()

  const tip = ancestry[ancestry.length - 1]!
  const header = tip.header
  // The window is as long as the chain allows: a shorter one would compute other entropy, hence other quorums,
  // than every node that followed the chain.
  invalid(na === Math.min(header.height, ANCESTRY_WINDOW) + 1, 'ancestry window length', { length: na, expected: Math.min(header.height, ANCESTRY_WINDOW) + 1 })
  for (let i = 1; i < na; i++) {
    const a = ancestry[i]!
    const prev = ancestry[i - 1]!
    invalid(equals(a.parentHash, prev.hash) && a.height === prev.height + 1, 'ancestry not hash-linked', { at: a.height })
    // Each header's anchor follows from its parent's: unchanged, or the header itself when it resumed the chain.
    const resumed = !equals(a.header.certRoot, ZERO32)
    const anchorOk = resumed
      ? a.header.anchorHeight === a.height && a.header.anchorTimestamp === a.timestamp
      : a.header.anchorHeight === prev.header.anchorHeight && a.header.anchorTimestamp === prev.header.anchorTimestamp
    invalid(anchorOk, 'anchor not carried', { at: a.height })
  }
  const first = ancestry[0]!
  if (first.height === 0) {
    invalid(equals(first.hash, genesisHash), 'genesis hash')
    invalid(first.header.anchorHeight === 0 && first.header.anchorTimestamp === first.timestamp, 'genesis anchor')
  }
  invalid(header.anchorHeight <= header.height && header.anchorTimestamp <= header.timestamp, 'anchor after the tip')
  // A record the tip's block would have dropped (until <= tip height) cannot be in the state it committed to.
  for (const rec of senders.values()) invalid(rec.until > header.height && rec.lastSeq >= 1, 'sender record out of range', { sender: rec.id.slice(0, 16) })
  invalid(equals(computeRegistryRoot(registry, senders), header.registryRoot), 'registry does not match the tip header', { height: header.height })
  return {
    config, networkId, preset: PRESETS[config.preset], genesisHash, tip: { hash: tip.hash, header }, registry, senders, ancestry,
    anchor: { height: header.anchorHeight, timestamp: header.anchorTimestamp }
  }
}

export interface TrustedStateOptions {
  verifier: Ed25519Verifier
  /** Local time, for the trusting period. */
  now: number
}

/**
 * The state of a trusted checkpoint, as served by a peer (sync STATE, PROTOCOL.md §3.11), verified:
 * the genesis block against the release quorum, the state's every byte against the checkpoint's hash (above),
 * the state's genesis hash against that genesis, and the checkpoint's age against the trusting period.
 * Throws CHECKPOINT_EXPIRED (the checkpoint is too old, whoever serves it), CHECKPOINT_MISMATCH (a valid state
 * of another block), CHECKPOINT_INVALID (bytes that do not bind) or the genesis' own error.
 */
export async function verifyTrustedState (config: NetworkConfig, trusted: TrustedCheckpoint, genesis: Block, stateBytes: Uint8Array, opts: TrustedStateOptions): Promise<ChainState> {
  const preset = PRESETS[config.preset]
  const base = await processGenesis(config, genesis, opts.verifier)
  const state = decodeChainState(config, stateBytes)
  check(state.tip.header.height === trusted.height && equals(state.tip.hash, trusted.hash), 'CHECKPOINT_MISMATCH',
    { height: state.tip.header.height, expectedHeight: trusted.height, hash: toHex(state.tip.hash).slice(0, 16), expected: toHex(trusted.hash).slice(0, 16) })
  check(equals(state.genesisHash, base.genesisHash), 'CHECKPOINT_INVALID', { reason: 'state names another genesis' })
  const age = opts.now - state.tip.header.timestamp
  check(age <= preset.trustingPeriodMs, 'CHECKPOINT_EXPIRED', { height: trusted.height, ageMs: age, trustingPeriodMs: preset.trustingPeriodMs })
  return state
}

/** `height:hashhex` (the form of --checkpoint and ClientConfig.checkpoint strings). Throws NON_CANONICAL. */
export function parseCheckpoint (text: string): TrustedCheckpoint {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text.trim().toLowerCase())
  check(m !== null, 'NON_CANONICAL', { what: 'checkpoint', expected: '<height>:<64 hex digits of the block hash>' })
  const height = Number(m[1])
  check(height >= 1, 'NON_CANONICAL', { what: 'checkpoint', reason: 'height 0 is genesis: start from genesis instead' })
  return { height, hash: fromHex(m[2]!) }
}

export function formatCheckpoint (c: TrustedCheckpoint): string {
  return `${c.height}:${toHex(c.hash)}`
}
