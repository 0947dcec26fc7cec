/**
 * Per-peer tables that an attacker could grow by making new identities stay bounded: insertion order is
 * age (a key used again moves to the end), and past the bound the oldest key is forgotten.
 */

/** Reject counters kept at once (peers with some rejects; the least recently counted is forgotten). */
export const MAX_REJECT_COUNTERS = 4_096
/** Blocklisted peer ids kept at once (the oldest block is lifted beyond this). */
export const MAX_BLOCKLIST = 16_384

/** Sets `key` to `value` as the newest key of `m` (a key set again moves to the end), forgetting the oldest keys beyond `max`. */
export function setBounded<K, V> (m: Map<K, V>, key: K, value: V, max: number): void {
  m.delete(key)
  m.set(key, value)
  while (m.size > max) m.delete(m.keys().next().value!)
}

/** Adds `by` to `key`'s count, moving it to the newest end, and forgets the oldest keys beyond `max`. Returns the new count. */
export function countBounded (m: Map<string, number>, key: string, by: number, max: number): number {
  const n = (m.get(key) ?? 0) + by
  setBounded(m, key, n, max)
  return n
}

/** Adds `key` to `s`, forgetting the oldest keys beyond `max`. */
export function addBounded (s: Set<string>, key: string, max: number): void {
  s.add(key)
  while (s.size > max) s.delete(s.values().next().value!)
}
