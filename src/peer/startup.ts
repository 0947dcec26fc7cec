/**
 * Where a peer's start-up time goes: each phase once, the first time it happens, in ms on one monotonic
 * clock (the worker's `performance.now()`: ms since the worker started; on Node, since the process did).
 * The worker API reports it in `status().startup`, the page shows it, and the bench prints it.
 *
 *   worker    the worker's script fetched and its modules evaluated (from the worker's start)
 *   store     IndexedDB (or the Node store) opened, the peer identity and validator key read
 *   libp2p    the libp2p node built
 *   load      the stored chain read and re-verified
 *   dial      from the dialer's start to the first connection up (transport, noise, yamux done)
 *   identify  from that connection up to the first identify that names the sync protocol
 *   checkpoint  a trusted checkpoint's state fetched and verified (checkpoint starts only)
 *   status    the first sync STATUS request and its answer
 *   sync      from that answer to our tip at the peer's tip: `batches`, `blocks`, and how long the loop
 *             waited for a fetch (`fetchWaitMs`) and spent accepting batches (`acceptMs`), split into
 *             verification (`verifyMs`), the store write (`storeMs`) and block events (`eventsMs`)
 *   head      the chain was first level with a peer's tip (a point: start = end)
 */
export const STARTUP_PHASES = ['worker', 'store', 'libp2p', 'load', 'dial', 'identify', 'checkpoint', 'status', 'sync', 'head'] as const
export type StartupPhaseName = typeof STARTUP_PHASES[number]

export interface StartupPhase {
  name: StartupPhaseName
  startMs: number
  endMs: number
  detail?: Record<string, string | number>
}

export class StartupTimeline {
  private readonly phases = new Map<StartupPhaseName, StartupPhase>()
  readonly now: () => number

  constructor (now: () => number) { this.now = now }

  /** Records `name` from `startMs` to now, unless it was recorded before (a phase is its first occurrence). */
  record (name: StartupPhaseName, startMs: number, detail?: Record<string, string | number>): void {
    if (this.phases.has(name)) return
    this.phases.set(name, { name, startMs: round(startMs), endMs: round(this.now()), ...(detail !== undefined ? { detail } : {}) })
  }

  has (name: StartupPhaseName): boolean { return this.phases.has(name) }

  /** The recorded phases in the order of STARTUP_PHASES. */
  snapshot (): StartupPhase[] {
    const out: StartupPhase[] = []
    for (const n of STARTUP_PHASES) {
      const p = this.phases.get(n)
      if (p !== undefined) out.push({ ...p, ...(p.detail !== undefined ? { detail: { ...p.detail } } : {}) })
    }
    return out
  }
}

function round (ms: number): number { return Math.round(ms * 10) / 10 }
