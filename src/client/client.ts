/**
 * The client API for pages and embedders: starts the peer worker (or takes the embedder's own Worker or
 * MessagePort) and talks to it through comlink.
 *
 * Failures are `LightpulseError`s with a typed `code`. A worker that fails to load or stops answering
 * rejects every pending call with WORKER_CRASHED; `terminate()` rejects them with WORKER_TERMINATED.
 */
import { wrap, proxy, releaseProxy } from 'comlink'
import type { Endpoint, Remote } from 'comlink'
import { LightpulseError, fromWireError, isReply } from './errors.ts'
import type { Reply } from './errors.ts'
import { attachRtcBridge, canBridgeRtc } from './rtc-bridge.ts'
import { canShareAcrossTabs, createTabSharedClient } from './tabs.ts'
import type { RtcBridge, RtcBridgeOptions } from './rtc-bridge.ts'
import { payloadBytes, streamsOf } from './streams.ts'
import type { StreamOptions } from './streams.ts'
import type { BlockEvent } from '../peer/events.ts'
import type { ClientConfig, ClientEvent, StatusSnapshot, SubmitOptions, SubmittedTx, TxEvent, TxInclusion, VerifiedHeader, WireApi } from './types.ts'

export interface LightpulseClient {
  /** Starts the peer (idempotent); resolves with the first status once the stored chain is loaded. */
  start: (config: ClientConfig) => Promise<StatusSnapshot>
  stop: () => Promise<void>
  status: () => Promise<StatusSnapshot>
  /** Subscribes to the peer's events; resolves with an unsubscribe function. */
  on: (listener: (e: ClientEvent) => void) => Promise<() => Promise<void>>
  /** Creates (once) the tab's non-extractable validator key and publishes its registration. */
  enroll: () => Promise<{ publicKey: string, txHash: string }>
  /**
   * Shows that a transaction (64 hex digits of its hash) is in a block this peer verified itself: connected
   * peers are asked for its inclusion proof (sync PROOF), checked against the verified block's header. Coded
   * failures: PROOF_NOT_FOUND (no peer holds it), PROOF_UNVERIFIABLE (its block is older than the stored
   * range, or not synced yet), HEADER_MISMATCH, PROOF_INVALID (a forged answer; that peer is penalised).
   */
  getProof: (txHash: string) => Promise<TxInclusion>
  /** The header of a block this peer verified and still holds; BLOCK_NOT_HELD for a pruned or unknown height. */
  header: (height: number) => Promise<VerifiedHeader>
  /**
   * The block's random value (taggedHash of its quorum's reveals) with its verified header: a beacon a dApp can
   * draw from. Who can bias it, and how far: docs/LIMITS.md.
   */
  randomness: (height: number) => Promise<{ height: number, randomValue: string, header: VerifiedHeader }>
  /**
   * Signs a data transaction with the tab's data key (or `opts.keyPair`) and publishes it: `tag` is 1..32
   * printable ASCII characters (an application name), `payload` up to 1,024 bytes (a string is sent as UTF-8).
   * Resolves with its hash once a peer took it. Codes: LOCKED, TX_INVALID, MEMPOOL_FULL, NO_PEERS (nothing sent).
   */
  submit: (tag: string, payload: Uint8Array | string, opts?: SubmitOptions) => Promise<SubmittedTx>
  /**
   * Resolves with the verified inclusion once a block this peer verified carries the transaction (at once if it
   * already does). Codes: INCLUSION_TIMEOUT (default 60 s), TX_EXPIRED, PEER_STOPPED.
   */
  waitForInclusion: (txHash: string, opts?: { timeout?: number }) => Promise<TxInclusion>
  /** Checks an inclusion from anywhere against the header this peer verified. Codes: PROOF_INVALID, HEADER_MISMATCH, BLOCK_NOT_HELD. */
  verifyProof: (inclusion: TxInclusion) => Promise<TxInclusion>
  /** Every block this peer verifies from now on: `for await (const b of client.blocks()) …` (break to unsubscribe). */
  blocks: (opts?: StreamOptions) => AsyncIterableIterator<BlockEvent>
  /** Every data transaction (with `tag`, or any) in the blocks this peer verifies from now on, each with its inclusion proof. */
  transactions: (tag?: string, opts?: StreamOptions) => AsyncIterableIterator<TxEvent>
  /** Stops the worker at once (when the client started it); pending and later calls fail with WORKER_TERMINATED. */
  terminate: () => void
  /** The page-side WebRTC bridge that gives the worker's libp2p WebRTC (absent where the page has no RTCPeerConnection or rtc is off). */
  readonly rtc?: RtcBridge
}

export interface ClientOptions {
  /**
   * Your own Worker running the `lightpulse/worker` module, for a strict CSP or custom hosting:
   * `new Worker(new URL('lightpulse/worker', import.meta.url), { type: 'module' })` or a URL you serve.
   * Default: the worker file shipped next to this module (bundlers pick it up from `new URL(…, import.meta.url)`).
   */
  worker?: Worker
  /** Or any MessagePort-like endpoint to a peer exposed with `exposeWorkerApi` (tests, a SharedWorker). No WebRTC bridge. */
  port?: Endpoint
  /** The WebRTC bridge (default on where the page has RTCPeerConnection); `{ forwardOnly: true }` for the fallback path. */
  rtc?: boolean | RtcBridgeOptions
  /**
   * One peer per origin and store (default true where the browser has Web Locks and BroadcastChannel): the
   * first tab runs the peer, later tabs are its clients, and one of them takes over when it closes
   * (src/client/tabs.ts). Applies to the bundled worker only: with `worker` or `port` this client is alone.
   */
  shareAcrossTabs?: boolean
  /** After a worker `error` event: how long a liveness probe may take before pending calls fail with WORKER_CRASHED. Default 3,000 ms. */
  probeTimeoutMs?: number
}

const DEFAULT_PROBE_TIMEOUT_MS = 3_000

/** Tracks pending calls so that a dead worker rejects them instead of leaving them hanging. */
class Calls {
  private readonly pending = new Set<(err: LightpulseError) => void>()
  dead: LightpulseError | undefined

  async run<T>(call: () => Promise<Reply<T>>): Promise<T> {
    if (this.dead !== undefined) throw this.dead
    return await new Promise<T>((resolve, reject) => {
      this.pending.add(reject)
      const done = (): void => { this.pending.delete(reject) }
      call().then((reply) => {
        done()
        if (!isReply(reply)) reject(new LightpulseError('PROTOCOL_MISMATCH', 'The worker answered something that is not a lightpulse reply: is the Worker running the lightpulse/worker module?'))
        else if (reply.ok) resolve(reply.value)
        else reject(fromWireError(reply.error))
      }, (err: unknown) => {
        done()
        reject(new LightpulseError('INTERNAL', `The call to the worker failed: ${String((err as Error)?.message ?? err)}`))
      })
    })
  }

  kill (err: LightpulseError): void {
    if (this.dead !== undefined) return
    this.dead = err
    for (const reject of this.pending) reject(err)
    this.pending.clear()
  }
}

/** navigator.storage.persist() where this context has it (a page; not a worker), not awaited: Firefox may prompt. */
function requestPersistentStorage (): void {
  const sm = (globalThis.navigator as Navigator | undefined)?.storage
  if (typeof sm?.persist === 'function') sm.persist().catch(() => false)
}

/** A client over any endpoint that exposes the worker API (`exposeWorkerApi`). */
export function connectWorker (endpoint: Endpoint, opts: { terminate?: () => void, rtc?: RtcBridge } = {}): LightpulseClient & { readonly calls: Calls, readonly wire: Remote<WireApi> } {
  const wire = wrap<WireApi>(endpoint)
  const calls = new Calls()
  const on: LightpulseClient['on'] = async (listener) => {
    const id = await calls.run(async () => await wire.subscribe(proxy(listener)))
    return async () => { await calls.run(async () => await wire.unsubscribe(id)) }
  }
  return {
    calls,
    wire,
    start: async (config) => {
      if (config.persistStorage === true) requestPersistentStorage()
      return await calls.run(async () => await wire.start(config))
    },
    stop: async () => { await calls.run(async () => await wire.stop()) },
    status: async () => await calls.run(async () => await wire.status()),
    on,
    enroll: async () => await calls.run(async () => await wire.enroll()),
    getProof: async (txHash) => await calls.run(async () => await wire.getProof(txHash)),
    header: async (height) => await calls.run(async () => await wire.header(height)),
    randomness: async (height) => {
      const header = await calls.run(async () => await wire.header(height))
      return { height: header.height, randomValue: header.randomValue, header }
    },
    submit: async (tag, payload, o) => await calls.run(async () => await wire.submit(tag, payloadBytes(payload), o)),
    waitForInclusion: async (txHash, o) => await calls.run(async () => await wire.waitForInclusion(txHash, o)),
    verifyProof: async (inclusion) => await calls.run(async () => await wire.verifyProof(inclusion)),
    ...streamsOf(on),
    terminate: () => {
      calls.kill(new LightpulseError('WORKER_TERMINATED', 'The lightpulse client was terminated; create a new client to start again.'))
      wire[releaseProxy]()
      opts.terminate?.()
    },
    ...(opts.rtc !== undefined ? { rtc: opts.rtc } : {})
  }
}

/** The default worker: the module file next to this one (the package build points this URL at peer.worker.js). */
function bundledWorker (): Worker {
  return new Worker(new URL('../../worker/peer.worker.ts', import.meta.url), { type: 'module', name: 'lightpulse-peer' })
}

/**
 * Starts the peer worker (the bundled one, or `opts.worker`), or connects to `opts.port`. With the bundled
 * worker, tabs of one origin share one peer (`shareAcrossTabs`).
 */
export function createLightpulseClient (opts: ClientOptions = {}): LightpulseClient {
  if (opts.port === undefined && opts.worker === undefined && opts.shareAcrossTabs !== false && canShareAcrossTabs()) {
    return createTabSharedClient(ownClient(opts))
  }
  return ownClient(opts)
}

function ownClient (opts: ClientOptions): LightpulseClient {
  if (opts.port !== undefined) {
    const c = connectWorker(opts.port)
    return publicView(c)
  }
  const worker = opts.worker ?? bundledWorker()
  const ownsWorker = opts.worker === undefined
  // The WebRTC bridge port must reach the worker before comlink's `start` (same port, so in order).
  const rtc = opts.rtc !== false && canBridgeRtc() ? attachRtcBridge(worker, typeof opts.rtc === 'object' ? opts.rtc : {}) : undefined
  const onPage = typeof document !== 'undefined'
  const c = connectWorker(worker, {
    terminate: () => {
      if (onPage) { document.removeEventListener('resume', wake); document.removeEventListener('visibilitychange', wake) }
      rtc?.close()
      if (ownsWorker) worker.terminate()
    },
    ...(rtc !== undefined ? { rtc } : {})
  })
  // A page that resumes after a freeze, or comes back to the foreground, tells its peer to catch up now (the
  // worker also notices a freeze by itself from its timers: src/peer/wake-watch.ts).
  function wake (): void { if (document.visibilityState !== 'hidden') void c.wire.resume().catch(() => {}) }
  if (onPage) { document.addEventListener('resume', wake); document.addEventListener('visibilitychange', wake) }
  const probeMs = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS
  let probing = false
  // A worker `error` event is a script that failed to load, or an uncaught exception: the worker may or may
  // not go on. Ask it; if it does not answer in time, it is dead, and every pending call fails now.
  worker.addEventListener('error', (ev: ErrorEvent) => {
    ev.preventDefault()
    if (probing || c.calls.dead !== undefined) return
    probing = true
    const reason = typeof ev.message === 'string' && ev.message !== '' ? ev.message : 'the worker script failed to load or threw'
    const timer = setTimeout(() => {
      c.calls.kill(new LightpulseError('WORKER_CRASHED', `The lightpulse worker stopped (${reason}). Check that its script is served (and allowed by the page's CSP), then create a new client.`, { reason }))
      rtc?.close()
    }, probeMs)
    c.wire.ping().then(() => { clearTimeout(timer) }, () => {}).finally(() => { probing = false })
  })
  return publicView(c)
}

function publicView (c: LightpulseClient): LightpulseClient {
  const { start, stop, status, on, enroll, getProof, header, randomness, submit, waitForInclusion, verifyProof, blocks, transactions, terminate, rtc } = c
  return { start, stop, status, on, enroll, getProof, header, randomness, submit, waitForInclusion, verifyProof, blocks, transactions, terminate, ...(rtc !== undefined ? { rtc } : {}) }
}
