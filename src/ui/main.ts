/**
 * The thin UI shell: renders what the peer in the worker reports. No framework; the peer does the work.
 * Config: /config.json (served by `npm start`), or ?config=URL. ?store=NAME picks the IndexedDB name;
 * ?checkpoint=HEIGHT:HASH starts from a trusted checkpoint (ClientConfig.checkpoint).
 */
import { createLightpulseClient } from '../entry/client.ts'
import type { ClientConfig, ClientEvent, StatusSnapshot } from '../entry/client.ts'

const $ = (id: string): HTMLElement => document.getElementById(id)!
const params = new URLSearchParams(location.search)

const logEl = $('log')
function log (text: string, level: 'info' | 'warn' | 'error' = 'info'): void {
  const li = document.createElement('li')
  li.className = level
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`
  logEl.prepend(li)
  while (logEl.childElementCount > 200) logEl.lastElementChild?.remove()
}

function banner (text: string | undefined, kind: 'bad' | 'warn' = 'bad'): void {
  const b = $('banner')
  b.hidden = text === undefined
  b.className = kind === 'warn' ? 'banner warn' : 'banner'
  b.textContent = text ?? ''
}

async function loadConfig (): Promise<ClientConfig> {
  const url = params.get('config') ?? './config.json'
  const res = await fetch(url).catch(() => undefined)
  if (res === undefined || !res.ok) throw new Error(`Could not load the network configuration from ${url}. Start the local network with 'npm start' and open the URL it prints.`)
  const cfg = await res.json() as ClientConfig
  // The page asks the browser to keep its stored chain and identity under storage pressure.
  cfg.persistStorage ??= true
  const store = params.get('store')
  if (store !== null) cfg.storeName = store
  const checkpoint = params.get('checkpoint')
  if (checkpoint !== null) cfg.checkpoint = checkpoint
  return cfg
}

let last: StatusSnapshot | undefined

/** "head in 412 ms of the worker's start: worker 80 · store 30 · … · sync 120 ms": where this start's time went (status().startup). */
function startupText (s: StatusSnapshot): string {
  const phases = s.startup?.phases ?? []
  const head = phases.find((p) => p.name === 'head')
  if (head === undefined) return phases.length === 0 ? '—' : `starting: ${phases[phases.length - 1]!.name} done at ${Math.round(phases[phases.length - 1]!.endMs)} ms`
  const parts = phases.filter((p) => p.name !== 'head').map((p) => `${p.name} ${Math.round(p.endMs - p.startMs)}`)
  return `head in ${Math.round(head.endMs)} ms of the worker's start: ${parts.join(' · ')} ms`
}

function render (s: StatusSnapshot): void {
  last = s
  $('network').textContent = s.network ?? ''
  const pill = $('pill')
  // Only what is known is said. "offline": no peer connected and a dial round reached no bootstrap (before
  // the first dial completes it is "connecting"). "stasis lock": no genesis and a peer said so (or release
  // messages came), never merely because no genesis is known yet. "verified": a head is shown and the chain
  // was level with a peer's tip at least once; until then "syncing" (a stored head is re-checked first).
  const noBootstrap = s.running && s.bootstraps.configured > 0 && s.bootstraps.connected === 0
  const offline = noBootstrap && s.connections.length === 0 && s.bootstraps.failedAttempts > 0
  const connecting = s.running && s.connections.length === 0 && !offline
  const locked = !s.genesis && (s.lockReported || (s.release?.seen ?? 0) > 0)
  const headShown = s.head !== undefined
  // "behind": the verified head is old (staleSince), e.g. after the tab was frozen or asleep, until a newer
  // block is verified; an old head is never shown as current.
  const behind = s.staleSince !== undefined && s.genesis && headShown
  const [text, kind] = !s.running
    ? ['stopped', '']
    : offline ? ['offline', 'bad']
      : connecting ? ['connecting', '']
        : locked ? ['stasis lock', 'warn']
          : !s.genesis || s.sync.syncing || !headShown || !s.sync.compared ? ['syncing', 'warn']
              : behind ? ['behind', 'warn'] : ['verified', 'ok']
  pill.textContent = text
  // The first render of a verified head, for the bench's phase breakdown (performance.getEntriesByName).
  if (text === 'verified' && performance.getEntriesByName('lightpulse:verified-head-rendered').length === 0) performance.mark('lightpulse:verified-head-rendered')
  pill.className = kind === '' ? 'pill' : `pill ${kind}`
  if (offline) {
    banner(`No bootstrap peer is reachable (${s.bootstraps.configured} configured). The peer keeps retrying by itself and keeps what it has verified. Check your connection, or that the local network ('npm start') is running.`)
  } else if (noBootstrap && s.connections.length > 0) {
    const n = s.connections.length
    banner(`No bootstrap peer is reachable (${s.bootstraps.configured} configured). Still connected to ${n} other peer${n === 1 ? '' : 's'}, so the chain is still followed through ${n === 1 ? 'it' : 'them'}; the peer keeps retrying the bootstraps by itself.`, 'warn')
  } else if (s.checkpoint !== undefined && s.checkpoint.state === 'failed') {
    banner(`Trusted checkpoint ${s.checkpoint.height} refused (${s.checkpoint.code ?? 'failed'}): ${s.lastError?.message ?? 'configure a newer checkpoint'}. Nothing was stored or verified.`, 'bad')
  } else if (s.checkpoint !== undefined && s.checkpoint.state === 'waiting' && s.checkpoint.code !== undefined) {
    banner(`Waiting for a peer to serve the trusted checkpoint ${s.checkpoint.height} (${s.checkpoint.code}; ${s.checkpoint.peersWithout} peer${s.checkpoint.peersWithout === 1 ? '' : 's'} could not): asking the others as they connect. If none can, the checkpoint is older than what peers keep; use a newer one.`, 'warn')
  } else if (s.store.error !== undefined) {
    banner(`Storage: ${s.store.error}`, 'warn')
  } else if (behind && s.running) {
    const since = new Date(s.staleSince!).toLocaleTimeString()
    banner(`Behind since ${since}: no newer block verified for ${Math.round((Date.now() - s.head!.timestamp) / 1000)} s (this tab was asleep, the connection is slow, or the chain has paused). Catching up from ${s.connections.length} peer${s.connections.length === 1 ? '' : 's'}…`, 'warn')
  } else if (locked && s.running) {
    banner(`The network is in its stasis lock: waiting for ${s.release?.threshold ?? '?'} release signers (${s.release?.seen ?? 0} seen).`, 'warn')
  } else banner(undefined)
  if (s.head !== undefined) {
    $('head-height').textContent = String(s.head.height)
    $('head-hash').textContent = s.head.hash.slice(0, 32) + '…'
    $('head-round').textContent = String(s.head.round)
    $('head-signers').textContent = s.head.height === 0 ? 'genesis (release certificate)' : s.head.signers > 0 ? `${s.head.signers} of 11` : 'from store (re-verified)'
    $('head-age').textContent = `${Math.max(0, Math.round((Date.now() - s.head.verifiedAt) / 1000))} s ago`
    // The head as a checkpoint string, so that it can be given to another peer (ClientConfig.checkpoint, --checkpoint).
    $('head-hash').title = `checkpoint: ${s.head.height}:${s.head.hash}`
  }
  $('started-from').textContent = s.startedFrom === undefined ? '—'
    : s.startedFrom.kind === 'genesis' ? 'genesis: every block since the release certificate'
      : `trusted checkpoint #${s.startedFrom.height} (${s.startedFrom.hash.slice(0, 12)}…), every block after it`
  $('stored-range').textContent = s.store.firstHeight === undefined || s.head === undefined ? '—'
    : `blocks ${Math.min(s.store.firstHeight, s.head.height)}–${s.head.height} (keeps the newest ${s.store.keepBlocks ?? '∞'})${s.store.persisted === false ? '; the browser may clear it when space runs low' : s.store.persisted === true ? '; kept by the browser (persistent storage)' : ''}`
  $('startup').textContent = startupText(s)
  const target = Math.max(s.sync.target, s.sync.height, 1)
  ;($('sync-bar')).style.width = `${Math.min(100, (100 * Math.max(0, s.sync.height)) / target)}%`
  // "by gossip" only with a block-topic mesh peer; until then new blocks arrive by the 3 s sync polls.
  const following = (s.mesh.blocks ?? 0) > 0 ? 'following the head by gossip' : 'following the head by sync polls (no gossip mesh peer yet)'
  $('sync-text').textContent = s.sync.syncing ? `syncing ${s.sync.height} / ${s.sync.target}` : s.genesis ? `${following} (${s.store.kind} store)` : locked ? 'waiting for genesis (stasis lock)' : 'asking peers for the chain'
  if (s.round !== undefined) {
    // Round -1: the next height's round has not started yet (the stage says "waiting").
    $('round-hr').textContent = `${s.round.height} / ${s.round.round < 0 ? '—' : s.round.round}`
    $('round-stage').textContent = s.round.stalled ? 'stalled: waiting for a release-quorum resume' : s.round.stage
    // Round messages go straight between the quorum's members (PROTOCOL.md §3.10): a tab outside the quorum
    // sees them only when a sender fell back to gossip, so its zeros would say nothing.
    const seen = s.round.commits + s.round.reveals + s.round.signatures > 0
    $('round-counts').textContent = s.round.position < 0 && !seen ? '— (sent to the quorum only)' : `${s.round.commits} · ${s.round.reveals} · ${s.round.signatures}`
    $('round-role').textContent = s.round.position === 11 ? 'producer' : s.round.position >= 0 ? `validator #${s.round.position}` : 'observer'
  }
  $('bootstraps').textContent = `${s.bootstraps.connected} of ${s.bootstraps.configured} connected`
  $('transports').textContent = s.transports.join(', ')
  $('mesh').textContent = Object.entries(s.mesh).map(([t, n]) => `${t} ${n}`).join(' · ') || '—'
  $('tab-role').textContent = s.tab === undefined ? 'runs its own peer' : s.tab.role === 'leader' ? 'runs the peer (one per site: other tabs show this one)' : 'shows the peer that another tab of this site runs'
  const peers = $('peers')
  peers.replaceChildren(...s.connections.map((c) => {
    const li = document.createElement('li')
    li.innerHTML = `<span class="mono"></span><span></span>`
    li.children[0]!.textContent = `…${c.peer.slice(-10)}${c.bootstrap ? ' (bootstrap)' : ''}`
    li.children[1]!.textContent = `${c.transport} ${c.direction}`
    return li
  }))
  if (s.validator !== undefined) {
    $('validator-info').hidden = false
    ;($('enroll') as HTMLButtonElement).disabled = s.validator.registered
    $('enroll').textContent = s.validator.registered ? 'Enrolled' : 'Publish registration again'
    $('validator-key').textContent = s.validator.publicKey.slice(0, 32) + '…'
    $('validator-status').textContent = s.validator.active ? 'active: selected by quorums like any validator' : s.validator.registered ? 'registered: active after the activation delay' : 'registration sent, waiting for a block to include it'
    $('validator-signed').textContent = String(s.validator.signed)
    $('validator-duty').textContent = s.validator.lastDuty !== undefined ? `height ${s.validator.lastDuty.height} round ${s.validator.lastDuty.round}: ${s.validator.lastDuty.stage}` : '—'
  }
}

function onEvent (e: ClientEvent): void {
  switch (e.type) {
    case 'block': if (e.source !== 'sync' || e.height % 100 === 0) log(`block ${e.height} round ${e.round}, ${e.signers.length} signatures, ${e.source}`); break
    case 'genesis': log(`stasis lock lifted: genesis ${e.hash.slice(0, 16)}… by release signers ${e.signers.join(', ')}`); break
    case 'release': log(`release message ${e.signer} (${e.seen} of ${e.threshold})`); break
    case 'rejected': log(`rejected ${e.code} from …${e.from?.slice(-8) ?? '?'}`, 'warn'); break
    case 'stalled': log(`chain stalled at height ${e.height}`, 'error'); break
    case 'sync': if (e.done) log(`synced to ${e.to}`); break
    case 'log': log(`${e.component}: ${e.message}`, e.level); break
    case 'error': log(`${e.code}: ${e.message}`, 'error'); break
    case 'round': if (e.role !== 'observer' && (e.stage === 'commit' || e.stage === 'block')) log(`duty: height ${e.height} round ${e.round} ${e.role} ${e.stage}`); break
  }
}

async function main (): Promise<void> {
  // ?rtc=off: no WebRTC bridge; ?rtc=forward: forward data-channel bytes through the page (fallback path)
  const client = createLightpulseClient({ rtc: params.get('rtc') === 'forward' ? { forwardOnly: true } : params.get('rtc') !== 'off' })
  ;(globalThis as { lightpulse?: unknown }).lightpulse = client
  $('enroll').addEventListener('click', () => {
    ($('enroll') as HTMLButtonElement).disabled = true
    client.enroll().then((r) => { log(`enrolled: registration for ${r.publicKey.slice(0, 16)}… published`) }, (err: Error & { code?: string }) => {
      ($('enroll') as HTMLButtonElement).disabled = false
      log(`enroll failed: ${err.code ?? ''} ${err.message}`, 'error')
    })
  })
  let config: ClientConfig
  try {
    config = await loadConfig()
  } catch (err) {
    banner((err as Error).message)
    return
  }
  // Renders the status: every 500 ms (what changes without an event: ages, connections) and right after each
  // event that changes what is shown, with at most one status call in flight.
  let pending = false
  let again = false
  const refresh = (): void => {
    if (pending) { again = true; return }
    pending = true
    client.status().then(render, (err: Error & { code?: string }) => { banner(`${err.code ?? 'ERROR'}: ${err.message}`, 'warn') })
      .finally(() => { pending = false; if (again) { again = false; refresh() } })
  }
  await client.on((e) => {
    onEvent(e)
    if (e.type === 'block' || e.type === 'sync' || e.type === 'genesis' || e.type === 'error' || e.type === 'release') refresh()
  })
  try {
    const first = await client.start(config)
    render(first)
    log(first.tab?.role === 'follower' ? 'another tab of this site runs the peer: this tab shows it, and takes over if that tab closes' : `peer started in a worker; ${config.bootstraps.length} bootstrap(s) configured`)
  } catch (err) {
    const e = err as Error & { code?: string }
    banner(`The peer could not start (${e.code ?? 'ERROR'}): ${e.message}`)
    return
  }
  setInterval(refresh, 500)
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') refresh() })
  void last
}

void main()
