/** What `<lightpulse-status>` shows for a status snapshot: pure, so a dApp that renders its own badge can use it too. */
import type { StatusSnapshot } from '../client/types.ts'

export type WidgetState = 'starting' | 'locked' | 'offline' | 'syncing' | 'behind' | 'verified'

/** What the widget shows for a status snapshot (exported for tests and for dApps that render it themselves). */
export function widgetView (s: StatusSnapshot | undefined, now: number): { state: WidgetState, label: string, height: string, age: string, signers: string, peers: string } {
  const peers = s?.connections.length ?? 0
  const head = s?.head
  const state: WidgetState = s === undefined || !s.running
    ? 'starting'
    : !s.genesis ? (s.lockReported ? 'locked' : (peers === 0 && s.bootstraps.failedAttempts > 0 ? 'offline' : 'starting'))
        : peers === 0 && s.bootstraps.failedAttempts > 0 ? 'offline'
          : s.sync.syncing ? 'syncing'
            : s.staleSince !== undefined ? 'behind'
              : head !== undefined ? 'verified' : 'starting'
  const labels: Record<WidgetState, string> = { starting: 'starting', locked: 'stasis lock', offline: 'offline', syncing: 'syncing', behind: 'behind', verified: 'verified' }
  return {
    state,
    label: labels[state],
    height: head !== undefined ? `#${head.height}` : '—',
    age: head !== undefined ? formatAge(now - head.timestamp) : '',
    signers: head !== undefined && head.height > 0 ? `${head.signers}/11 signed` : '',
    peers: `${peers} peer${peers === 1 ? '' : 's'}`
  }
}

function formatAge (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return `${Math.floor(s / 3600)} h ago`
}
