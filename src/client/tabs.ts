/**
 * One peer per origin and store, however many tabs are open. Tabs elect a leader with the Web Locks API
 * (one exclusive lock per store): the leader runs the peer worker, exactly as a lone tab does; every other
 * tab is a client of it over a BroadcastChannel — its calls (status, enroll) are answered by the leader's
 * peer, and the leader's events are replayed to its listeners. Every tab that is not the leader also waits
 * in the lock's queue, so when the leader's tab closes or crashes (the browser releases its lock) the next
 * tab starts its own worker on the same IndexedDB store and identity within moments. So two peers never
 * share an identity and two writers never share a store: only the lock holder ever opens the store.
 */
import { LightpulseError, fromWireError, isReply, toWireError } from './errors.ts'
import type { Reply } from './errors.ts'
import type { RtcBridge } from './rtc-bridge.ts'
import type { LightpulseClient } from './client.ts'
import { payloadBytes, streamsOf } from './streams.ts'
import { DEFAULT_INCLUSION_TIMEOUT_MS } from './types.ts'
import type { ClientConfig, ClientEvent, StatusSnapshot, SubmittedTx, TxInclusion, VerifiedHeader } from './types.ts'


/** How long a tab waits for the leader to answer a call before it fails with LEADER_UNREACHABLE. */
export const LEADER_CALL_TIMEOUT_MS = 10_000

type Method = 'status' | 'enroll' | 'getProof' | 'header' | 'submit' | 'waitForInclusion' | 'verifyProof'
/** Arguments are structured clones (strings, numbers, bytes, plain objects, CryptoKeys). */
type Args = unknown[]
type Msg =
  | { kind: 'call', id: string, method: Method, args: Args }
  | { kind: 'reply', id: string, reply: Reply<unknown> }
  | { kind: 'event', e: ClientEvent }
  | { kind: 'leader' }

/** True where this browser can share one peer between tabs (Web Locks and BroadcastChannel). */
export function canShareAcrossTabs (): boolean {
  return typeof navigator !== 'undefined' && navigator.locks !== undefined && typeof BroadcastChannel !== 'undefined'
}

/** The lock and channel name for a config: its store name, or a digest of its network. */
async function tabKey (config: ClientConfig): Promise<string> {
  if (config.storeName !== undefined) return `store:${config.storeName}`
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(config.network))))
  return `network:${[...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('')}`
}

interface Pending { method: Method, args: Args, resolve: (v: unknown) => void, reject: (e: LightpulseError) => void, timer: ReturnType<typeof setTimeout> }

/**
 * A LightpulseClient that shares one peer between the tabs of an origin. `local` is the client of this tab's
 * own worker: before start() and while this tab leads, calls go to it (an unstarted worker opens no store);
 * a follower keeps it idle, ready to take over.
 */
export function createTabSharedClient (local: LightpulseClient): LightpulseClient {
  let role: 'idle' | 'leader' | 'follower' = 'idle'
  let subscribed = false
  let channel: BroadcastChannel | undefined
  let queued: AbortController | undefined
  let releaseLock: (() => void) | undefined
  let config: ClientConfig | undefined
  let starting: Promise<StatusSnapshot> | undefined
  let terminated = false
  /** stop()/terminate() since the last start(): a lock granted now is given back at once. */
  let closed = false
  const listeners = new Set<(e: ClientEvent) => void>()
  const pending = new Map<string, Pending>()
  const emit = (e: ClientEvent): void => { for (const l of listeners) { try { l(e) } catch { /* a listener's own failure */ } } }
  const post = (m: Msg): void => { channel?.postMessage(m) }
  const withRole = (s: StatusSnapshot, r: 'leader' | 'follower'): StatusSnapshot => ({ ...s, tab: { role: r } })

  /** A call answered by the leader's peer (or by our own, once we lead). */
  const call = async <T>(method: Method, ...args: Args): Promise<T> => await callFor<T>(0, method, ...args)
  /** A call that may legitimately take `waitMs` (waitForInclusion) before the leader counts as unreachable. */
  const callFor = async <T>(waitMs: number, method: Method, ...args: Args): Promise<T> => {
    if (role !== 'follower') return await (local[method] as (...a: Args) => Promise<T>)(...args)
    const id = crypto.randomUUID()
    const limit = waitMs + LEADER_CALL_TIMEOUT_MS
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new LightpulseError('LEADER_UNREACHABLE', `The tab that runs this site's peer did not answer ${method}() within ${Math.round(limit / 1000)} s. Close the other tabs of this page, or reload.`, { method }))
      }, limit)
      pending.set(id, { method, args, resolve: resolve as (v: unknown) => void, reject, timer })
      post({ kind: 'call', id, method, args })
    })
  }

  const onMessage = (ev: MessageEvent<Msg>): void => {
    const m = ev.data
    if (role === 'leader' && m.kind === 'call') {
      const reply = (value: unknown): void => { post({ kind: 'reply', id: m.id, reply: { ok: true, value } }) }
      const fail = (err: unknown): void => { post({ kind: 'reply', id: m.id, reply: { ok: false, error: toWireError(err) } }) }
      ;(local[m.method] as (...a: Args) => Promise<unknown>)(...(Array.isArray(m.args) ? m.args : [])).then((v) => { reply(m.method === 'status' ? withRole(v as StatusSnapshot, 'follower') : v) }, fail)
    } else if (role === 'follower' && m.kind === 'reply') {
      const p = pending.get(m.id)
      if (p === undefined) return
      pending.delete(m.id)
      clearTimeout(p.timer)
      if (!isReply(m.reply)) p.reject(new LightpulseError('PROTOCOL_MISMATCH', 'Another tab answered something that is not a lightpulse reply (a different version of the page?).'))
      else if (m.reply.ok) p.resolve(m.reply.value)
      else p.reject(fromWireError(m.reply.error))
    } else if (role === 'follower' && m.kind === 'event') {
      emit(m.e)
    } else if (role === 'follower' && m.kind === 'leader') {
      // A new leader: ask it again what the old one left unanswered.
      for (const [id, p] of pending) post({ kind: 'call', id, method: p.method, args: p.args })
    }
  }
  /** Holds the lock until stop()/terminate() (or until the tab goes away, when the browser releases it). */
  const hold = async (): Promise<void> => { if (closed) return; await new Promise<void>((resolve) => { releaseLock = resolve }) }

  const lead = async (): Promise<StatusSnapshot> => {
    role = 'leader'
    if (!subscribed) {
      subscribed = true
      await local.on((e) => { if (role === 'leader') { emit(e); post({ kind: 'event', e }) } })
    }
    const s = await local.start(config!)
    post({ kind: 'leader' })
    // Calls that were waiting for the old leader are ours now.
    for (const [id, p] of pending) {
      pending.delete(id)
      clearTimeout(p.timer)
      ;(local[p.method] as (...a: Args) => Promise<unknown>)(...p.args).then(p.resolve, (err: unknown) => { p.reject(err instanceof LightpulseError ? err : new LightpulseError('INTERNAL', String(err))) })
    }
    return withRole(s, 'leader')
  }

  const start = async (c: ClientConfig): Promise<StatusSnapshot> => {
    if (terminated) throw new LightpulseError('WORKER_TERMINATED', 'The lightpulse client was terminated; create a new client to start again.')
    config = c
    closed = false
    const name = `lightpulse-peer/${await tabKey(c)}`
    channel = new BroadcastChannel(name)
    channel.onmessage = onMessage
    const first = await new Promise<boolean>((resolve) => {
      void navigator.locks.request(name, { ifAvailable: true }, async (lock) => {
        if (lock === null) { resolve(false); return }
        resolve(true)
        await hold()
      })
    })
    if (first) return await lead()
    role = 'follower'
    // Wait in line: when the leader's tab closes, the lock comes to one waiting tab, which takes over.
    queued = new AbortController()
    navigator.locks.request(name, { signal: queued.signal }, async () => {
      if (terminated || role !== 'follower') return
      emit({ type: 'log', level: 'info', component: 'tabs', message: 'The tab that ran this site\'s peer has closed: this tab runs it now (same store and identity).' })
      await lead().catch((err: unknown) => { emit({ type: 'log', level: 'error', component: 'tabs', message: `taking over the peer failed: ${String(err)}` }) })
      await hold()
    }).catch(() => { /* aborted by stop() or terminate() */ })
    return withRole(await call<StatusSnapshot>('status'), 'follower')
  }

  const close = (): void => {
    closed = true
    queued?.abort()
    queued = undefined
    releaseLock?.()
    releaseLock = undefined
    channel?.close()
    channel = undefined
    for (const p of pending.values()) { clearTimeout(p.timer); p.reject(terminated ? new LightpulseError('WORKER_TERMINATED', `${p.method}() was pending when the client was terminated`) : new LightpulseError('NOT_STARTED', `${p.method}() was pending when the client stopped`)) }
    pending.clear()
    role = 'idle'
  }

  const on: LightpulseClient['on'] = async (listener) => {
    listeners.add(listener)
    return async () => { listeners.delete(listener) }
  }

  return {
    start: async (c) => { starting ??= start(c).finally(() => { starting = undefined }); return await starting },
    stop: async () => {
      const leading = role === 'leader'
      close()
      if (leading) await local.stop()
    },
    status: async () => {
      const s = await call<StatusSnapshot>('status')
      return role === 'leader' ? withRole(s, 'leader') : s
    },
    on,
    enroll: async () => await call<{ publicKey: string, txHash: string }>('enroll'),
    getProof: async (txHash) => await call<TxInclusion>('getProof', txHash),
    header: async (height) => await call<VerifiedHeader>('header', height),
    randomness: async (height) => {
      const header = await call<VerifiedHeader>('header', height)
      return { height: header.height, randomValue: header.randomValue, header }
    },
    terminate: () => {
      terminated = true
      local.terminate()
      close()
    },
    submit: async (tag, payload, o) => await call<SubmittedTx>('submit', tag, payloadBytes(payload), o),
    waitForInclusion: async (txHash, o) => await callFor<TxInclusion>(o?.timeout ?? DEFAULT_INCLUSION_TIMEOUT_MS, 'waitForInclusion', txHash, o),
    verifyProof: async (inclusion) => await call<TxInclusion>('verifyProof', inclusion),
    ...streamsOf(on),
    get rtc (): RtcBridge | undefined { return local.rtc }
  }
}
