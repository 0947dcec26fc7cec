/**
 * The validator registry: who may be chosen, and in what order. Records are kept sorted by id
 * (public key hex) so the commitment is canonical.
 */
import { TAG } from './constants.ts'
import { Writer, compare, toHex } from './bytes.ts'
import { taggedHash } from './hash.ts'
import type { ValidatorRecord } from './types.ts'

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

/** Commitment to the whole registry: tagged hash of every record in public-key order. */
export function computeRegistryRoot (reg: Registry): Uint8Array {
  const ids = [...reg.keys()].sort()
  const w = new Writer(8 + ids.length * 67)
  w.u32(ids.length)
  for (const id of ids) encodeRecord(w, reg.get(id)!)
  return taggedHash(TAG.registry, w.finish())
}
