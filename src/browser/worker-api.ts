/**
 * The peer as the worker runs it: IndexedDB store, WebCrypto Ed25519 (pure-JS fallback), browser
 * transports, and the same Peer runtime as the Node nodes. Implements the WorkerApi the page calls
 * through comlink.
 */
import { generateKeyPair, privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdsOf } from '../peer/dialer.ts'
import { toHex, fromHex, computeNetworkId, computeTxHash, parseCheckpoint } from '../protocol/index.ts'
import type { DataTx, Ed25519Verifier } from '../protocol/index.ts'
import { fromWireInclusion, tabDataSigner, toWireInclusion, txEvents } from './worker-data.ts'
import { Peer } from '../peer/peer.ts'
import { IgnorePenalty } from '../peer/gossip-penalty.ts'
import { topicsFor, networkTag } from '../peer/topics.ts'
import { createLogger } from '../peer/logger.ts'
import { networkFromFile } from '../peer/network-file.ts'
import { createWebCryptoVerifier, generateWebCryptoSigner, isWebCryptoEd25519Available, webCryptoSignerFromKeyPair } from '../crypto/webcrypto.ts'
import { createNobleVerifier } from '../crypto/noble.ts'
import type { Signer } from '../crypto/types.ts'
import { openIdbStore } from '../storage/idb-store.ts'
import type { IdbChainStore } from '../storage/idb-store.ts'
import { LightpulseError } from '../client/errors.ts'
import { DEFAULT_INCLUSION_TIMEOUT_MS, DEFAULT_KEEP_BLOCKS } from '../client/types.ts'
import type { ClientConfig, ClientEvent, StatusSnapshot, TransportName, WorkerApi } from '../client/types.ts'
import { availableTransports, createBrowserLibp2p } from './libp2p-browser.ts'
import { RelayKeeper } from '../peer/relay-keeper.ts'
import { systemClock } from '../peer/clock.ts'
import type { Identify } from '@libp2p/identify'
import { StartupTimeline } from '../peer/startup.ts'

/** The head counts as stale once this many of the preset's longest block times passed without a newer block. */
export const STALE_AFTER_BLOCKS = 3

/** `staleSince` for the status: when the verified head became stale, if it is now. */
function staleness (state: Peer['chain']['state'], head: StatusSnapshot['head']): { staleSince?: number } {
  if (state === undefined || head === undefined) return {}
  const since = head.timestamp + STALE_AFTER_BLOCKS * state.preset.timing.maxBlockMs
  return Date.now() >= since ? { staleSince: since } : {}
}

const VALIDATOR_KEY = 'validator'
const PEER_KEY = 'peer-key'

export interface WorkerApiOptions {
  /** Extra transports provided by the page (WebRTC bridge), and the names they add. */
  extraTransports?: (cfg: ClientConfig) => { names: TransportName[], factories: Array<(components: any) => any>, listen?: string[] }
}

/** What a test or benchmark worker may reach besides the API (the product worker exposes only the API). */
export interface WorkerInternals { readonly peer?: Peer, readonly store?: IdbChainStore, readonly verifier?: Ed25519Verifier }

export function createWorkerApi (opts: WorkerApiOptions = {}): WorkerApi & { readonly internals: WorkerInternals } {
  let peer: Peer | undefined
  let store: IdbChainStore | undefined
  let verifier: Ed25519Verifier | undefined
  let cryptoKind: 'webcrypto' | 'noble' = 'webcrypto'
  let config: ClientConfig | undefined
  let transports: TransportName[] = []
  const listeners = new Map<number, (e: ClientEvent) => void>()
  let nextId = 1
  let lastError: { code: string, message: string } | undefined
  let head: StatusSnapshot['head']
  let sync = { height: -1, target: -1, syncing: false }
  let release: StatusSnapshot['release']
  let signed = 0
  let lastDuty: NonNullable<StatusSnapshot['validator']>['lastDuty']
  let loaded: { height: number, discarded?: string } | undefined
  let starting: Promise<StatusSnapshot> | undefined
  let keeper: RelayKeeper | undefined
  let firstHeight: number | undefined
  let dataSigner: Promise<Signer> | undefined
  /** Transactions this worker submitted, by hash (the newest 1,024): waitForInclusion knows their expiry. */
  const submitted = new Map<string, DataTx>()
  // Created as the worker's module evaluation ends (the entry calls this at its top level): `worker` is the
  // script's fetch and evaluation, from the worker's start.
  const timeline = new StartupTimeline(() => performance.now())
  timeline.record('worker', 0)

  const emit = (e: ClientEvent): void => {
    for (const fn of listeners.values()) {
      try { fn(e) } catch { /* a page listener's failure is its own */ }
    }
  }

  // Whether the browser keeps this origin's storage under pressure (navigator.storage.persisted(), which a
  // worker can read; asking for it, persist(), is the page's: ClientConfig.persistStorage). Read every 2 s at most.
  let persisted: boolean | undefined
  let persistedAt = -Infinity
  const readPersisted = (): void => {
    if (performance.now() - persistedAt < 2_000) return
    persistedAt = performance.now()
    const sm = (globalThis.navigator as Navigator | undefined)?.storage
    if (typeof sm?.persisted !== 'function') return
    sm.persisted().then((v) => { persisted = v }, () => {})
  }
  const status = (): StatusSnapshot => {
    readPersisted()
    const p = peer
    const state = p?.chain.state
    const signer = p?.signer
    const id = signer !== undefined ? toHex(signer.publicKey) : undefined
    const rec = id !== undefined ? state?.registry.get(id) : undefined
    return {
      running: p !== undefined,
      peerId: p?.libp2p.peerId.toString(),
      network: config?.network.name,
      head,
      genesis: state !== undefined,
      lockReported: p?.sync.lockReported ?? false,
      release,
      round: p?.rounds.status(),
      sync: { ...sync, height: p?.chain.height ?? -1, compared: p?.sync.compared ?? false },
      connections: p?.connections() ?? [],
      mesh: p?.meshPeers() ?? {},
      bootstraps: { configured: config?.bootstraps.length ?? 0, connected: p?.dialer.connectedBootstraps() ?? 0, failedAttempts: p?.dialer.failedAttempts ?? 0 },
      transports,
      ...staleness(state, head),
      validator: id === undefined
        ? undefined
        : { publicKey: id, registered: rec !== undefined, active: rec !== undefined && state !== undefined && rec.activeFrom <= state.tip.header.height + 1, signed, lastDuty },
      store: { kind: store?.kind ?? 'none', error: p?.chain.storageError?.message, loadedHeight: loaded?.height, discarded: loaded?.discarded, firstHeight, keepBlocks: config?.keepBlocks ?? DEFAULT_KEEP_BLOCKS, ...(persisted !== undefined ? { persisted } : {}) },
      ...(state === undefined ? {} : { startedFrom: p?.chain.startedFrom === undefined ? { kind: 'genesis' as const } : { kind: 'checkpoint' as const, height: p.chain.startedFrom.height, hash: toHex(p.chain.startedFrom.hash) } }),
      ...(p?.sync.checkpoint !== undefined ? { checkpoint: { ...p.sync.checkpoint.status } } : {}),
      crypto: cryptoKind,
      startup: { timeOrigin: performance.timeOrigin, phases: timeline.snapshot() },
      lastError,
      stats: { rejected: { ...p?.stats.rejected }, accepted: { ...p?.stats.accepted } }
    }
  }

  const start = async (cfg: ClientConfig): Promise<StatusSnapshot> => {
    if (peer !== undefined) return status()
    config = cfg
    let network
    try {
      network = networkFromFile(cfg.network)
    } catch (err) {
      throw new LightpulseError('CONFIG_INVALID', `The network configuration is invalid: ${(err as Error).message}`)
    }
    if (cfg.bootstraps.length === 0) throw new LightpulseError('CONFIG_INVALID', 'No bootstrap addresses configured: give at least one bootstrap multiaddr.')
    let checkpoint
    try {
      checkpoint = cfg.checkpoint === undefined || cfg.checkpoint === '' ? undefined : parseCheckpoint(cfg.checkpoint)
    } catch {
      throw new LightpulseError('CONFIG_INVALID', `The checkpoint "${cfg.checkpoint}" is not <height>:<64 hex digits of the block hash> (height at least 1).`)
    }
    const networkId = computeNetworkId(network)
    const storeAt = timeline.now()
    store = await openIdbStore(cfg.storeName ?? `lightpulse-${networkTag(networkId)}`)
    cryptoKind = await isWebCryptoEd25519Available() ? 'webcrypto' : 'noble'
    verifier = cryptoKind === 'webcrypto' ? createWebCryptoVerifier() : createNobleVerifier()
    const rawKey = await store.getMeta(PEER_KEY)
    const privateKey = rawKey !== undefined ? privateKeyFromRaw(rawKey) : await generateKeyPair('Ed25519')
    if (rawKey === undefined) await store.putMeta(PEER_KEY, privateKey.raw)
    const pair = await store.getKeyPair(VALIDATOR_KEY)
    const signer: Signer | undefined = pair !== undefined ? await webCryptoSignerFromKeyPair(pair) : undefined
    timeline.record('store', storeAt, { newIdentity: rawKey === undefined ? 1 : 0 })
    const extra = opts.extraTransports?.(cfg) ?? { names: [], factories: [] }
    transports = (cfg.transports ?? [...availableTransports(), ...extra.names]).filter((t) => availableTransports().includes(t) || extra.names.includes(t))
    const bootstrapIds = peerIdsOf(cfg.bootstraps)
    const blocklist = new Set<string>()
    const ignorePenalty = new IgnorePenalty(Date.now)
    const libp2pAt = timeline.now()
    const libp2p = await createBrowserLibp2p({
      penalty: (id) => ignorePenalty.penalty(id),
      privateKey, topics: topicsFor(networkId), role: signer !== undefined ? 'validator' : 'light', bootstrapIds, blocklist,
      transports, local: cfg.local ?? false, extraTransports: extra.factories, extraListen: extra.listen
    })
    timeline.record('libp2p', libp2pAt, { transports: transports.join(' ') })
    const logger = createLogger('lightpulse', (level, component, message, fields) => {
      if (level === 'debug') return
      emit({ type: 'log', level, component: component.replace(/^lightpulse:/, ''), message, details: fields })
    })
    const p = new Peer({
      network, libp2p, store, verifier, role: signer !== undefined ? 'validator' : 'light', signer, bootstraps: cfg.bootstraps, logger, blocklist, ignorePenalty, redialMs: 1_000,
      keepBlocks: cfg.keepBlocks ?? DEFAULT_KEEP_BLOCKS, timeline, ...(checkpoint !== undefined ? { checkpoint } : {})
    })
    p.events.on('block', (b) => {
      head = { height: b.height, hash: b.hash, round: b.round, signers: b.signers.length, timestamp: b.timestamp, verifiedAt: b.acceptedAt }
      void store?.getFirstHeight().then((h) => { firstHeight = h }, () => {})
      const mine = p.signer !== undefined ? toHex(p.signer.publicKey) : undefined
      if (mine !== undefined && b.signerKeys.includes(mine)) signed++
      emit({ type: 'block', ...b })
    })
    p.chain.onBlocks((blocks) => {
      if (listeners.size === 0) return
      for (const e of txEvents(blocks)) emit({ type: 'tx', ...e })
    })
    p.events.on('round', (r) => {
      if (r.role !== 'observer') lastDuty = { height: r.height, round: r.round, stage: r.stage }
      emit({ type: 'round', ...r })
    })
    p.events.on('sync', (s) => { sync = { height: s.to, target: s.target, syncing: !s.done }; emit({ type: 'sync', ...s }) })
    p.events.on('genesis', (g) => {
      // Genesis is the first verified head (a chain may sit at height 0 until its first block).
      if (head === undefined) head = { height: 0, hash: g.hash, round: 0, signers: 0, timestamp: g.timestamp, verifiedAt: Date.now() }
      emit({ type: 'genesis', ...g })
    })
    // A start from a trusted checkpoint is a verified head with no block event of its own.
    p.chain.onTip((st) => {
      if (head === undefined || head.height < st.tip.header.height) head = { height: st.tip.header.height, hash: toHex(st.tip.hash), round: st.tip.header.round, signers: 0, timestamp: st.tip.header.timestamp, verifiedAt: Date.now() }
    })
    p.events.on('release', (r) => { release = { seen: r.seen, threshold: r.threshold }; emit({ type: 'release', ...r }) })
    p.events.on('rejected', (r) => { emit({ type: 'rejected', ...r }) })
    p.events.on('stalled', (s) => { emit({ type: 'stalled', ...s }) })
    p.events.on('error', (e) => {
      lastError = { code: e.code, message: e.message }
      emit({ type: 'error', ...e })
    })
    p.events.on('block', () => { if (lastError?.code === 'NO_BOOTSTRAP') lastError = undefined })
    peer = p
    const loadAt = timeline.now()
    const result = await p.chain.load()
    loaded = { height: result.height, discarded: result.discarded }
    timeline.record('load', loadAt, { height: result.height })
    // The stored range is known from the store now, not only after the next block (a reload at the head).
    firstHeight = await store.getFirstHeight()
    const st = p.chain.state
    if (st !== undefined) head = { height: st.tip.header.height, hash: toHex(st.tip.hash), round: st.tip.header.round, signers: 0, timestamp: st.tip.header.timestamp, verifiedAt: Date.now() }
    await p.start()
    // A relay reservation that failed once is not asked for again by the library (src/peer/relay-keeper.ts).
    const identifyService = (libp2p.services as { identify?: Identify }).identify
    if (identifyService !== undefined) {
      keeper = new RelayKeeper({ libp2p, identify: async (c) => await identifyService.identify(c), relays: bootstrapIds, clock: systemClock, log: logger.forComponent('relay') })
      keeper.start()
    }
    return status()
  }

  const running = (what: string): Peer => {
    if (peer === undefined || store === undefined) throw new LightpulseError('NOT_STARTED', `Start the peer before you ${what}.`)
    return peer
  }
  const txHashOf = (txHash: string): Uint8Array => {
    if (typeof txHash !== 'string' || !/^[0-9a-f]{64}$/i.test(txHash)) throw new LightpulseError('CONFIG_INVALID', `A transaction hash is 64 hex digits, not "${String(txHash)}".`)
    return fromHex(txHash.toLowerCase())
  }

  return {
    internals: { get peer () { return peer }, get store () { return store }, get verifier () { return verifier } },
    start: async (cfg) => {
      starting ??= start(cfg).catch((err: unknown) => { starting = undefined; peer = undefined; throw err })
      return await starting
    },
    stop: async () => {
      const p = peer
      peer = undefined
      starting = undefined
      keeper?.stop()
      keeper = undefined
      await p?.stop()
      await store?.close()
      store = undefined
      dataSigner = undefined
    },
    status: async () => status(),
    subscribe: async (listener) => {
      const id = nextId++
      listeners.set(id, listener)
      return id
    },
    unsubscribe: async (id) => { listeners.delete(id) },
    enroll: async () => {
      const p = peer
      if (p === undefined || store === undefined) throw new LightpulseError('NOT_STARTED', 'Start the peer before enrolling as a validator.')
      if (p.chain.state === undefined) throw new LightpulseError('LOCKED', 'The network is still in its stasis lock; enrol after genesis.')
      let signer = p.signer
      if (signer === undefined) {
        const { signer: s, keyPair } = await generateWebCryptoSigner()
        await store.putKeyPair(VALIDATOR_KEY, keyPair)
        p.setSigner(s)
        signer = s
      }
      const tx = await p.register()
      return { publicKey: toHex(signer.publicKey), txHash: toHex(computeTxHash(tx)) }
    },
    getProof: async (txHash) => {
      const p = running('ask for a proof')
      return toWireInclusion(await p.getProof(txHashOf(txHash)))
    },
    submit: async (tag, payload, opts = {}) => {
      const p = running('submit a transaction')
      if (typeof tag !== 'string') throw new LightpulseError('CONFIG_INVALID', 'A transaction tag is a string of 1..32 printable ASCII characters.')
      if (!(payload instanceof Uint8Array)) throw new LightpulseError('CONFIG_INVALID', 'A transaction payload is a Uint8Array (or a string, which the client encodes as UTF-8).')
      if (p.chain.state === undefined) throw new LightpulseError('LOCKED', 'The network is still in its stasis lock: nothing can be included before genesis.')
      const signer = opts.keyPair !== undefined ? await webCryptoSignerFromKeyPair(opts.keyPair) : await (dataSigner ??= tabDataSigner(store!))
      const tx = await p.dataTxs.submit(signer, tag, payload, opts.expiresIn !== undefined ? { expiresIn: opts.expiresIn } : {})
      const txHash = toHex(computeTxHash(tx))
      submitted.set(txHash, tx)
      if (submitted.size > 1024) submitted.delete(submitted.keys().next().value!)
      return { txHash, sender: toHex(tx.sender), seq: tx.seq, expires: tx.expires, tag: tx.tag }
    },
    waitForInclusion: async (txHash, opts = {}) => {
      const p = running('wait for an inclusion')
      const timeoutMs = opts.timeout ?? DEFAULT_INCLUSION_TIMEOUT_MS
      if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new LightpulseError('CONFIG_INVALID', `A timeout is a number of ms ≥ 0, not ${String(opts.timeout)}.`)
      const tx = submitted.get(txHash.toLowerCase())
      return toWireInclusion(await p.dataTxs.waitForInclusion(txHashOf(txHash), { timeoutMs, ...(tx !== undefined ? { tx } : {}) }))
    },
    verifyProof: async (inclusion) => {
      const p = running('verify a proof')
      const i = fromWireInclusion(inclusion)
      return toWireInclusion(await p.dataTxs.verify(i.height, i.blockHash, i.tx, i.txHash, i.proof))
    },
    header: async (height) => {
      const p = running('ask for a header')
      if (!Number.isSafeInteger(height) || height < 0) throw new LightpulseError('CONFIG_INVALID', `A height is a whole number ≥ 0, not ${String(height)}.`)
      const { header: h, hash } = await p.header(height)
      return {
        height: h.height, hash: toHex(hash), parentHash: toHex(h.parentHash), timestamp: h.timestamp, round: h.round, producer: toHex(h.producer),
        bitset: h.bitset, revealBitset: h.revealBitset, randomValue: toHex(h.randomValue), txRoot: toHex(h.txRoot), registryRoot: toHex(h.registryRoot),
        certRoot: toHex(h.certRoot), anchorHeight: h.anchorHeight, anchorTimestamp: h.anchorTimestamp
      }
    },
    ping: async () => 'pong',
    resume: async () => { peer?.wake('the page resumed') }
  }
}
