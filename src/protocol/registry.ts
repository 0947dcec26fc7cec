/**
 * The validator registry: who may be chosen, and in what order. Records are kept sorted by id
 * (public key hex) so the commitment is canonical.
 */
import { TAG } from './constants.ts'
import { Writer, compare, toHex } from './bytes.ts'
import { taggedHash } from './hash.ts'
import type { SenderRecord, ValidatorRecord } from './types.ts'
import { NO_SENDERS } from './txs.ts'
import type { SenderTable } from './txs.ts'

export type Registry = ReadonlyMap<string, ValidatorRecord>

export function createGenesisRegistry (keys: Uint8Array[]): Map<string, ValidatorRecord> {
  const reg = new Map<string, ValidatorRecord>()
  for (const publicKey of keys) {
    const id = toHex(publicKey)
    // Every genesis validator starts from the same sort key (0, 0): ties are broken by public key.
    reg.set(id, { publicKey, id, registeredHeight: 0, activeFrom: 1, lastValidatedHeight: 0, lastValidatedPosition: 0, lastRewardHeight: 0, missed: 0 })
  }
  return reg
}

export function isActive (r: ValidatorRecord, height: number): boolean {
  return r.activeFrom <= height
}

/** Active validators at `height`, in the idle order: (last validated height, position), ties by public key. */
export function computeIdleOrder (reg: Registry, height: number): ValidatorRecord[] {
  const out: ValidatorRecord[] = []
  for (const r of reg.values()) if (isActive(r, height)) out.push(r)
  out.sort((a, b) => (a.lastValidatedHeight - b.lastValidatedHeight) || (a.lastValidatedPosition - b.lastValidatedPosition) || compare(a.publicKey, b.publicKey))
  return out
}

/** Head of the reward queue: the active validator rewarded longest ago, ties by public key. */
export function computeQueueHead (reg: Registry, height: number): ValidatorRecord | undefined {
  let best: ValidatorRecord | undefined
  for (const r of reg.values()) {
    if (!isActive(r, height)) continue
    if (best === undefined || r.lastRewardHeight < best.lastRewardHeight ||
      (r.lastRewardHeight === best.lastRewardHeight && compare(r.publicKey, best.publicKey) < 0)) best = r
  }
  return best
}

export function countActive (reg: Registry, height: number): number {
  let n = 0
  for (const r of reg.values()) if (isActive(r, height)) n++
  return n
}

export function encodeRecord (w: Writer, r: ValidatorRecord): void {
  w.fixed(r.publicKey, 32).u64(r.registeredHeight).u64(r.activeFrom).u64(r.lastValidatedHeight)
    .u8(r.lastValidatedPosition).u64(r.lastRewardHeight).u16(r.missed)
}

export function encodeSenderRecord (w: Writer, r: SenderRecord): void {
  w.fixed(r.publicKey, 32).u64(r.lastSeq).u64(r.until)
}

/**
 * The header's registryRoot: the tagged hash of the validator records in public-key order, then the data
 * senders' records in public-key order, each list preceded by its u32 count.
 */
export function computeRegistryRoot (reg: Registry, senders: SenderTable = NO_SENDERS): Uint8Array {
  const ids = [...reg.keys()].sort()
  const sids = [...senders.keys()].sort()
  const w = new Writer(8 + ids.length * 67 + sids.length * 48)
  w.u32(ids.length)
  for (const id of ids) encodeRecord(w, reg.get(id)!)
  w.u32(sids.length)
  for (const id of sids) encodeSenderRecord(w, senders.get(id)!)
  return taggedHash(TAG.registry, w.finish())
}
