/**
 * Notices that this peer's timers stopped for a while — a frozen or suspended tab, a stopped process, a
 * sleeping laptop — from the clock jumping between two ticks, and calls `onWake` so the peer catches up at
 * once instead of at its next sync poll. (A tab's page can say so too: `Peer.wake`, from the client.)
 */
import type { Clock } from './clock.ts'

export interface WakeWatchInit {
  clock: Clock
  /** Tick interval, ms (default 1,000). */
  tickMs?: number
  /** A tick this much later than due counts as a pause, ms (default 5,000). */
  gapMs?: number
  onWake: (pausedMs: number) => void
}

export class WakeWatch {
  private readonly init: WakeWatchInit
  private timer?: unknown
  private due = 0

  constructor (init: WakeWatchInit) {
    this.init = init
  }

  start (): void {
    if (this.timer !== undefined) return
    this.schedule()
  }

  stop (): void {
    if (this.timer !== undefined) this.init.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule (): void {
    const tick = this.init.tickMs ?? 1_000
    this.due = this.init.clock.now() + tick
    this.timer = this.init.clock.setTimeout(() => {
      const late = this.init.clock.now() - this.due
      this.schedule()
      if (late >= (this.init.gapMs ?? 5_000)) this.init.onWake(late)
    }, tick)
  }
}
