/** Round timing: pure arithmetic on chain data and a `now` passed in. */
import { MAX_ROUND } from './constants.ts'
import type { Timing } from './constants.ts'
import { ProtocolError } from './errors.ts'

/** The block the schedule is measured from: genesis, or the last block that resumed a stalled chain. */
export interface ScheduleAnchor { height: number, timestamp: number }

/**
 * Start of round 0 for the block at `height` whose parent has timestamp `parentTs`:
 * clamp(ideal, parentTs + min, parentTs + max), ideal = anchor.ts + target * (height - anchor.height).
 * A chain behind schedule therefore catches up at the minimum spacing.
 */
export function computeRound0Start (timing: Timing, anchor: ScheduleAnchor, height: number, parentTs: number): number {
  const ideal = anchor.timestamp + timing.targetBlockMs * (height - anchor.height)
  return Math.min(Math.max(ideal, parentTs + timing.minBlockMs), parentTs + timing.maxBlockMs)
}

export function computeRoundStart (timing: Timing, round0Start: number, round: number): number {
  return round0Start + timing.roundMs * round
}

/**
 * The round in progress at `now` (-1 before round 0 starts). Throws CHAIN_STALLED past round 254:
 * only a resume certificate from the release quorum can restart the chain.
 */
export function computeRoundAt (timing: Timing, round0Start: number, now: number): number {
  if (now < round0Start) return -1
  const round = Math.floor((now - round0Start) / timing.roundMs)
  if (round > MAX_ROUND) throw new ProtocolError('CHAIN_STALLED', { round0Start, now, lastRound: MAX_ROUND })
  return round
}

/** Earliest time at which the chain counts as stalled on top of a parent whose round 0 started at round0Start. */
export function computeStallTime (timing: Timing, round0Start: number): number {
  return round0Start + timing.roundMs * (MAX_ROUND + 1)
}
