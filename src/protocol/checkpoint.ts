/**
 * Canonical encoding of a chain state (a checkpoint), and its decoding with consistency checks: the
 * registry must hash to the tip header's registryRoot, the ancestry must be hash-linked up to the tip.
 * A checkpoint is never trusted alone: the runtime stores the oldest state of its reorg window
 * (up to 16 blocks below the tip) and re-processes every block above it on load, so the signatures of
 * quorums computed from it vouch for it.
 */
import { ANCESTRY_WINDOW, HEADER_SIZE, PRESETS } from './constants.ts'
import { Reader, Writer, equals } from './bytes.ts'
import { ProtocolError, check } from './errors.ts'
import { writeHeader, decodeHeader } from './encoding.ts'
import { computeBlockHash, computeNetworkId } from './chain.ts'
import type { ChainState } from './chain.ts'
import { computeRegistryRoot, encodeRecord } from './registry.ts'
import { toHex } from './bytes.ts'
import type { AncestorLink } from './quorum.ts'
import type { NetworkConfig, ValidatorRecord } from './types.ts'

const CHECKPOINT_VERSION = 1
const MAX_REGISTRY = 1_000_000

export function encodeChainState (s: ChainState): Uint8Array {
  const w = new Writer(512 + s.registry.size * 67 + s.ancestry.length * 112)
  w.u8(CHECKPOINT_VERSION).fixed(s.networkId, 32).fixed(s.genesisHash, 32)
  writeHeader(w, s.tip.header)
  w.u32(s.registry.size)
  for (const id of [...s.registry.keys()].sort()) encodeRecord(w, s.registry.get(id)!)
  w.u8(s.ancestry.length)
  for (const a of s.ancestry) w.fixed(a.hash, 32).u64(a.height).fixed(a.parentHash, 32).fixed(a.randomValue, 32).u64(a.timestamp)
  w.u64(s.anchor.height).u64(s.anchor.timestamp)
  return w.finish()
}

export function decodeChainState (config: NetworkConfig, bytes: Uint8Array): ChainState {
  try {
    const r = new Reader(bytes, 'checkpoint')
    check(r.u8('version') === CHECKPOINT_VERSION, 'BAD_VERSION', { what: 'checkpoint' })
    const networkId = r.fixed(32, 'networkId')
    check(equals(networkId, computeNetworkId(config)), 'GENESIS_MISMATCH', { what: 'checkpoint network' })
    const genesisHash = r.fixed(32, 'genesisHash')
    const header = decodeHeader(r.fixed(HEADER_SIZE, 'tip'))
    const n = r.u32('registrySize')
    check(n <= MAX_REGISTRY, 'TOO_LARGE', { what: 'registry', count: n })
    const registry = new Map<string, ValidatorRecord>()
    for (let i = 0; i < n; i++) {
      const publicKey = r.fixed(32, 'publicKey')
      const rec: ValidatorRecord = {
        publicKey, id: toHex(publicKey), registeredHeight: r.u64('registeredHeight'), activeFrom: r.u64('activeFrom'),
        lastValidatedHeight: r.u64('lastValidatedHeight'), lastValidatedPosition: r.u8('lastValidatedPosition'),
        lastRewardHeight: r.u64('lastRewardHeight'), missed: r.u16('missed')
      }
      registry.set(rec.id, rec)
    }
    const na = r.count(1, ANCESTRY_WINDOW + 1, 'ancestry')
    const ancestry: AncestorLink[] = []
    for (let i = 0; i < na; i++) {
      ancestry.push({ hash: r.fixed(32, 'hash'), height: r.u64('height'), parentHash: r.fixed(32, 'parentHash'), randomValue: r.fixed(32, 'randomValue'), timestamp: r.u64('timestamp') })
    }
    const anchor = { height: r.u64('anchorHeight'), timestamp: r.u64('anchorTimestamp') }
    r.end()
    const hash = computeBlockHash(header)
    check(equals(computeRegistryRoot(registry), header.registryRoot), 'CHECKPOINT_INVALID', { reason: 'registry does not match the tip header', height: header.height })
    const last = ancestry[ancestry.length - 1]
    check(last !== undefined && equals(last.hash, hash), 'CHECKPOINT_INVALID', { reason: 'ancestry does not end at the tip' })
    // The last link is the tip itself, and the window is as long as the chain allows: a shorter one would
    // compute other entropy, hence other quorums, than every node that followed the chain.
    check(last.height === header.height && equals(last.parentHash, header.parentHash) && equals(last.randomValue, header.randomValue) &&
      last.timestamp === header.timestamp, 'CHECKPOINT_INVALID', { reason: 'last ancestry link is not the tip header' })
    check(ancestry.length === Math.min(header.height, ANCESTRY_WINDOW) + 1, 'CHECKPOINT_INVALID',
      { reason: 'ancestry window length', length: ancestry.length, expected: Math.min(header.height, ANCESTRY_WINDOW) + 1 })
    for (let i = 1; i < ancestry.length; i++) {
      check(equals(ancestry[i]!.parentHash, ancestry[i - 1]!.hash) && ancestry[i]!.height === ancestry[i - 1]!.height + 1, 'CHECKPOINT_INVALID', { reason: 'ancestry not hash-linked', at: i })
    }
    check(header.height === 0 ? equals(hash, genesisHash) : true, 'CHECKPOINT_INVALID', { reason: 'genesis hash' })
    return { config, networkId, preset: PRESETS[config.preset], genesisHash, tip: { hash, header }, registry, ancestry, anchor }
  } catch (err) {
    if (err instanceof ProtocolError && err.code === 'CHECKPOINT_INVALID') throw err
    throw new ProtocolError('CHECKPOINT_INVALID', { reason: err instanceof ProtocolError ? err.code : String(err) })
  }
}
