/**
 * Fork choice between two valid chains that share an ancestor: every peer applies the same total order,
 * so peers that saw the forks in different orders still end on the same chain.
 */
import { compare } from './bytes.ts'

/** One fork as seen from the common ancestor. */
export interface ForkSummary {
  /** Height of the fork's tip. */
  tipHeight: number
  /** Round of the fork's first block (the one right above the common ancestor). */
  firstRound: number
  /** Hash of that first block. */
  firstHash: Uint8Array
}

/**
 * Negative if fork `a` wins, positive if `b` wins, 0 if they are the same fork (same first block, same
 * length). Both first blocks must be at the same height (right above the same ancestor).
 * 1. The longer fork wins.
 * 2. Equal length: the lower round at the first height where they differ (the first block), i.e. the block
 *    made in the earlier round.
 * 3. Same round: the lower first-block hash (bytes compared as unsigned, most significant first).
 * Over forks of equal length this is a lexicographic order on (round, hash) per height, hence total and
 * transitive.
 */
export function compareForks (a: ForkSummary, b: ForkSummary): number {
  if (a.tipHeight !== b.tipHeight) return b.tipHeight - a.tipHeight
  if (a.firstRound !== b.firstRound) return a.firstRound - b.firstRound
  return compare(a.firstHash, b.firstHash)
}
