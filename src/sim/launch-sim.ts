/**
 * Discrete-event simulation of the network launch: a flood of light peers arriving at a few bootstraps
 * (gossipsub D = 0, PRUNE every GRAFT with peer exchange), the bootstraps' connection managers (low/high
 * watermarks, grace period, trim order), light peers building their gossipsub meshes from PX, then message
 * routing over the mesh with duplicate suppression, a hop limit and IHAVE/IWANT repair.
 *
 * Pure: `runLaunchSim(params)` uses no wall clock and no global randomness; the report is plain JSON and is
 * identical for identical params (seeded PRNG, heap ordered by (time, insertion)). See src/sim/README.md for
 * what is modelled, what is left out, and the defaults.
 *
 * Node ids: light peers are 0..peers-1; bootstraps and relays are kept in their own small tables. Light-peer
 * connections live in fixed-width slot arrays (peerMaxConns slots per peer) of typed arrays.
 */
import { DEFAULT_MESH } from '../peer/gossip-config.ts'
import { DEFAULT_PX_HISTORY } from '../peer/px-history.ts'
import { EventQueue } from './event-queue.ts'
import { SimRandom } from './sim-random.ts'
import { Samples, histQuantiles, round3 } from './sim-stats.ts'
import type { Quantiles } from './sim-stats.ts'
import { orderForTrim } from '../peer/connection-trimmer.ts'
import type { TrimCandidate } from '../peer/connection-trimmer.ts'

export interface LaunchSimParams {
  /** PRNG seed (default 1). */
  seed: number
  /** Light peers (default 100,000). */
  peers: number
  /** Bootstraps (default 8). */
  bootstraps: number
  /** Circuit relays for peers that cannot be dialled directly (default 5). */
  relays: number
  /** Arrival flood, peers per second, Poisson (default 1,000/s: 100k peers in ~100 s). */
  arrivalRate: number
  /** If > 0, overrides arrivalRate with peers / window (used by the upper-limit sweep). Default 0. */
  arrivalWindowMs: number
  /** Bootstrap connection-manager high / low watermarks (default 192 / 160). */
  high: number
  low: number
  /** New connections are not trimmed for this long (default 60 s). */
  graceMs: number
  /**
   * 'gate' (default): an inbound connection that would exceed `high` first triggers a trim down to `low`,
   * and is refused if that cannot make room, so the watermark cannot be breached.
   * 'reactive' (go-libp2p connmgr): accept, then trim when above high, at most once per trimSilenceMs.
   */
  trimMode: 'gate' | 'reactive'
  /** Reactive mode: minimum time between trims (go-libp2p silencePeriod, default 10 s). */
  trimSilenceMs: number
  /**
   * Sim-only policy (not in src/peer/connection-trimmer.ts): when a trim cannot get below high because every
   * connection is in its grace period, also trim grace-period peers that already got PX or are dead, in the
   * trimmer's emergency order. Default false (the real trimmer never trims inside the grace period).
   */
  trimGraceAfterPx: boolean
  /**
   * Bootstraps a peer dials at once, chosen at random (default 2, as the Dialer's bootstrapsPerAttempt in
   * launch-test's light peers; >= bootstraps means all of them, the Dialer's default). With 1, PX from
   * connected peers splits the network into one component per bootstrap.
   */
  bootstrapsPerPeer: number
  /**
   * PX entries (of prunePeers) a bootstrap draws from its cache of peers it handed PX to earlier (signed
   * records it still holds) instead of from its connected peers (default 8, as src/peer/px-history.ts on our
   * bootstraps; 0 = connected peers only, as plain gossipsub does).
   */
  pxFromHistory: number
  /** Size of that cache; each peer given PX overwrites a random entry (default 4,096). */
  pxHistorySize: number
  /**
   * A bootstrap queues PX for every peer once its subscription arrives (two link latencies after the
   * connection), not only for peers that GRAFT it (default true, as src/peer/px-history.ts installPxOnArrival).
   */
  pxOnArrival: boolean
  /**
   * A light peer hangs up its bootstrap(s) once it has this many light-peer connections (the Dialer's
   * releaseBootstrapsAt; 0 = never, the Dialer's default). With a release threshold a peer redials only when it has no bootstrap AND < minPeers connections;
   * without, whenever it has no bootstrap. Default 6.
   */
  releaseBootstrapAt: number
  /** Light peers dial known peers until they have this many connections (default 6). */
  minPeers: number
  /** Light peer connection limit; inbound refused above it (default 64). */
  peerMaxConns: number
  /** PX peers dialled per PRUNE (default 16). */
  pxDialMax: number
  /** Gossipsub mesh D / Dlo / Dhi, heartbeat, PX list size, prune backoff (default DEFAULT_MESH: 8/6/12, 700 ms, 16, 60 s). */
  D: number
  Dlo: number
  Dhi: number
  heartbeatMs: number
  prunePeers: number
  pruneBackoffMs: number
  /** Outbound peers kept when pruning above Dhi (default min(2, D/2)). */
  Dout: number
  /** Gossip (IHAVE) fan-out per heartbeat (default 6), heartbeats of history gossiped (3), kept for IWANT (5). */
  Dlazy: number
  historyGossip: number
  mcacheLen: number
  /** Bootstrap heartbeat budget: PRUNE+PX messages it can send per heartbeat (default 256). */
  bootstrapPxPerHeartbeat: number
  /** Round trips to establish a connection (transport + security + muxer; default 2). */
  dialRtts: number
  /** Dial to an offline peer fails after (default 5 s). */
  dialTimeoutMs: number
  /** Bootstrap redial backoff: first retry and cap (dialer.ts: 1 s doubling to 10 s). */
  redialMs: number
  maxRedialMs: number
  /** Known-peer top-up period (dialer.ts: 2 s). */
  topUpMs: number
  /** One-way link latency: lognormal median and sigma (default 40 ms, 0.6 → p99 ≈ 160 ms). */
  latencyMedianMs: number
  latencySigma: number
  /** Per-message drop probability on every gossip RPC carrying data or IHAVE/IWANT (default 0). */
  lossRate: number
  /** Validation + processing time per message per hop (default 1 ms). */
  msgProcMs: number
  /** Fraction of light peers that cannot accept direct dials and reserve a slot on a relay (default 0.02). */
  relayedFraction: number
  /** Reservations per relay (default 1,024). */
  relayMaxReservations: number
  /** Churn: fraction of online peers leaving per minute (default 0 = off), share of them crashing (0.5). */
  churnPerMinute: number
  crashFraction: number
  /** A peer that left comes back after this long (default 30 s; 0 = never). */
  rejoinAfterMs: number
  /** Light peers notice a crashed peer's connection after (default 10 s); bootstraps close it after (30 s). */
  deadDetectMs: number
  bootstrapDeadMs: number
  /** Mesh settling time after the last arrival before routing starts (default 30 s). */
  settleMs: number
  /** Routing: publishers, messages each, spacing (default 10 × 2, 250 ms apart). 0 publishers = skip routing. */
  publishers: number
  messagesPerPublisher: number
  publishIntervalMs: number
  /** Time allowed after the last publish for delivery and gossip repair (default 10 s). */
  drainMs: number
  /** Hop limit: a message received at this hop is delivered but not forwarded (default 16). */
  maxHops: number
  /** Publisher sends to all connected topic peers (gossipsub floodPublish, default true) or only its mesh. */
  floodPublish: boolean
  /** Hard bounds: the simulation stops by itself at whichever comes first. */
  maxEvents: number
  maxSimMs: number
  /** Timeline sample period (default 5 s). */
  sampleEveryMs: number
}

export const DEFAULT_LAUNCH_SIM: LaunchSimParams = {
  seed: 1,
  peers: 100_000,
  bootstraps: 8,
  relays: 5,
  arrivalRate: 1_000,
  arrivalWindowMs: 0,
  high: 192,
  low: 160,
  graceMs: 60_000,
  trimMode: 'gate',
  trimSilenceMs: 10_000,
  trimGraceAfterPx: false,
  bootstrapsPerPeer: 2,
  pxFromHistory: DEFAULT_PX_HISTORY.fromHistory,
  pxHistorySize: DEFAULT_PX_HISTORY.size,
  pxOnArrival: true,
  releaseBootstrapAt: 6,
  minPeers: 6,
  peerMaxConns: 64,
  pxDialMax: 16,
  D: DEFAULT_MESH.D,
  Dlo: DEFAULT_MESH.Dlo,
  Dhi: DEFAULT_MESH.Dhi,
  heartbeatMs: DEFAULT_MESH.heartbeatMs,
  prunePeers: DEFAULT_MESH.prunePeers,
  pruneBackoffMs: DEFAULT_MESH.pruneBackoffMs,
  Dout: Math.min(2, Math.floor(DEFAULT_MESH.D / 2)),
  Dlazy: 6,
  historyGossip: 3,
  mcacheLen: 5,
  bootstrapPxPerHeartbeat: 256,
  dialRtts: 2,
  dialTimeoutMs: 5_000,
  redialMs: 1_000,
  maxRedialMs: 10_000,
  topUpMs: 2_000,
  latencyMedianMs: 40,
  latencySigma: 0.6,
  lossRate: 0,
  msgProcMs: 1,
  relayedFraction: 0.02,
  relayMaxReservations: 1_024,
  churnPerMinute: 0,
  crashFraction: 0.5,
  rejoinAfterMs: 30_000,
  deadDetectMs: 10_000,
  bootstrapDeadMs: 30_000,
  settleMs: 30_000,
  publishers: 10,
  messagesPerPublisher: 2,
  publishIntervalMs: 250,
  drainMs: 10_000,
  maxHops: 16,
  floodPublish: true,
  maxEvents: 400_000_000,
  maxSimMs: 3_600_000,
  sampleEveryMs: 5_000
}

export interface BootstrapFigures {
  peak: number
  accepted: number
  rejected: number
  trimmed: number
  graceTrimmed: number
  pxSent: number
  heartbeats: number
}

export interface TimelinePoint {
  tMs: number
  arrived: number
  online: number
  onBootstrap: number
  meshedDlo: number
  bootstrapConns: number
  maxBootstrapConns: number
  grafts: number
  prunes: number
}

export interface LaunchSimReport {
  params: LaunchSimParams
  run: { events: number, simTimeMs: number, peakQueue: number, stoppedBy: 'done' | 'maxEvents' | 'maxSimMs', arrivalEndMs: number, routingStartMs: number }
  /** Figure 1: peer exchange. */
  peerExchange: {
    pass: boolean
    pxSent: number
    /** Bootstrap heartbeats from connect (or from a repeat GRAFT) to the PRUNE+PX. */
    heartbeatsOnBootstrap: Quantiles
    over3Heartbeats: number
    /** GRAFTs to a bootstrap that never got their PRUNE (peer trimmed or gone first, or still queued at the end). */
    graftsNeverPruned: number
    emptyPxLists: number
    meanPxListSize: number
    /** Light-peer mesh degree (bootstraps excluded) over online peers when routing starts. */
    meshDegree: Quantiles
    peersBelowDlo: number
    peersWithEmptyMesh: number
    /** Arrival to first mesh >= Dlo. */
    timeToMeshMs: Quantiles
  }
  /** Figure 2: connection management on the bootstraps. */
  connectionManagement: {
    pass: boolean
    high: number
    low: number
    peak: number
    breached: boolean
    bootstraps: BootstrapFigures[]
    rejectedDials: number
  }
  /** Figure 3: routing after the mesh has settled. */
  routing: {
    pass: boolean
    messages: number
    expectedDeliveries: number
    delivered: number
    loss: number
    latencyMs: Quantiles
    duplicatesPerDelivery: number
    maxHop: number
    hopLimitStops: number
    deliveredByGossip: number
    droppedByLossModel: number
    ihaveSent: number
    iwantSent: number
    relays: Array<{ reservations: number, peakRelayedConns: number, relayedMessages: number }>
  }
  /** Figure 4 at this setting (the sweep in upper-limits.ts runs many): who never made it. */
  upperLimits: {
    pass: boolean
    arrived: number
    neverReachedBootstrap: number
    reachedBootstrapNeverMeshed: number
    neverMeshed: number
    unreachableNoRelaySlot: number
  }
  /** Mesh stability once (nearly) all peers are online: light-peer GRAFT/PRUNE messages. */
  meshStability: {
    settleWindowMs: number
    graftsPerMinute: number
    prunesPerMinute: number
    perThousandPeersPerMinute: number
    routingWindowGraftsPerMinute: number
    routingWindowPrunesPerMinute: number
    totalGrafts: number
    totalPrunes: number
  }
  churn: { left: number, crashed: number, rejoined: number }
  timeline: TimelinePoint[]
}

// Event types.
const E_ARRIVE = 1
const E_BOOT_DIAL = 2
const E_BOOT_REJECTED = 3
const E_HB_PEER = 4
const E_HB_BOOT = 5
const E_GRAFT = 6
const E_PRUNE = 7
const E_BOOT_GRAFT = 8
const E_BOOT_PRUNE = 9
const E_DIAL_DONE = 10
const E_DIAL_FAIL = 11
const E_MSG = 12
const E_IHAVE = 13
const E_PUBLISH = 14
const E_LEAVE = 15
const E_DEAD_DETECT = 16
const E_BOOT_DEAD = 17
const E_SAMPLE = 18
const E_TRIM = 19

// Light-peer slot flags.
const S_MESH = 1
const S_OUT = 2
const S_DEAD = 4
// Peer x bootstrap flags.
const B_CONN = 1
const B_GRAFTED = 2
const B_PXDONE = 4
const B_DEAD = 8
const B_DIALING = 16
/** Bootstrap side: a GRAFT is queued for its next heartbeat (B_GRAFTED is the peer's side). */
const B_QUEUED = 32

const LAT_SCALE = 100 // latency packed into event ints as centi-ms
const INC_MASK = 0x3ff
const PX_RING = 1 << 18

interface Message {
  publisher: number
  publishAt: number
  recvAt: Float64Array
  best: Float64Array
  hop: Uint8Array
}

export function runLaunchSim (params: Partial<LaunchSimParams> = {}): LaunchSimReport {
  const p: LaunchSimParams = { ...DEFAULT_LAUNCH_SIM, ...params }
  validateParams(p)
  return new LaunchSim(p).run()
}

export function validateParams (p: LaunchSimParams): void {
  const intAtLeast = (name: keyof LaunchSimParams, min: number): void => {
    const v = p[name]
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(v)}`)
  }
  intAtLeast('peers', 1); intAtLeast('bootstraps', 1); intAtLeast('relays', 0)
  intAtLeast('high', 1); intAtLeast('low', 0); intAtLeast('peerMaxConns', 1); intAtLeast('D', 1); intAtLeast('Dlo', 0); intAtLeast('Dhi', 1)
  intAtLeast('bootstrapsPerPeer', 1); intAtLeast('pxFromHistory', 0); intAtLeast('pxHistorySize', 1)
  intAtLeast('publishers', 0); intAtLeast('messagesPerPublisher', 0); intAtLeast('maxHops', 1); intAtLeast('prunePeers', 0)
  if (p.peers > 2_000_000) throw new RangeError('peers must be <= 2,000,000')
  if (p.prunePeers > 63 || p.pxDialMax > 63) throw new RangeError('prunePeers and pxDialMax must be <= 63')
  if (p.bootstraps > 1024 || p.relays > 1024) throw new RangeError('at most 1,024 bootstraps and relays')
  if (p.peerMaxConns > 255) throw new RangeError('peerMaxConns must be <= 255')
  if (p.low > p.high) throw new RangeError(`low (${p.low}) must be <= high (${p.high})`)
  if (!(p.Dlo <= p.D && p.D <= p.Dhi)) throw new RangeError('need Dlo <= D <= Dhi')
  if (p.publishers * p.messagesPerPublisher > 4096) throw new RangeError('at most 4,096 messages')
  if (p.arrivalWindowMs <= 0 && !(p.arrivalRate > 0)) throw new RangeError('arrivalRate must be > 0')
  if (!(p.heartbeatMs > 0) || !(p.lossRate >= 0 && p.lossRate < 1)) throw new RangeError('heartbeatMs > 0 and 0 <= lossRate < 1')
}

class LaunchSim {
  private readonly p: LaunchSimParams
  private readonly rng: SimRandom
  private readonly q = new EventQueue(1 << 16)
  private readonly N: number
  private readonly B: number
  private readonly MAXC: number

  // Light peers.
  private readonly state: Uint8Array // 0 not arrived, 1 online, 2 offline
  private readonly inc: Uint16Array // incarnation (churn)
  private readonly arrivals: Float64Array
  private readonly joinedAt: Float64Array
  private readonly firstBootAt: Float64Array
  private readonly firstMeshAt: Float64Array
  private readonly firstDloAt: Float64Array
  private readonly connCount: Uint8Array
  private readonly pendDial: Uint8Array
  private readonly meshCount: Uint8Array
  private readonly bootConns: Uint8Array
  private readonly bootDialing: Uint8Array
  private readonly bootFailures: Uint8Array
  private readonly nextBootDialAt: Float64Array
  private readonly nextTopUpAt: Float64Array
  private readonly relayOf: Int16Array // -1 direct, -2 relayed without a slot, r >= 0
  private readonly known: Int32Array // last PX list (peerstore)
  private readonly knownLen: Uint8Array
  // Slots.
  private readonly sPeer: Int32Array
  private readonly sFlags: Uint8Array
  private readonly sBackoff: Float32Array
  private readonly sLat: Float32Array
  private readonly sRelay: Int16Array
  // Peer x bootstrap.
  private readonly bFlags: Uint8Array
  private readonly bConnAt: Float64Array
  private readonly bHbRef: Int32Array
  private readonly bBackoff: Float64Array
  private readonly bLat: Float32Array
  private readonly bPos: Int32Array
  // Bootstraps.
  private readonly members: Int32Array[]
  private readonly history: Int32Array[]
  private readonly memberCount: Int32Array
  private readonly graftQueue: number[][]
  private readonly graftHead: Int32Array
  private readonly hbCount: Int32Array
  private readonly lastTrimAt: Float64Array
  private readonly trimScheduled: Uint8Array
  private readonly bootFig: BootstrapFigures[]
  // Relays.
  private readonly relayRes: Int32Array
  private readonly relayConns: Int32Array
  private readonly relayPeak: Int32Array
  private readonly relayMsgs: Float64Array

  private readonly pxRing = new Int32Array(PX_RING)
  private pxRingPos = 0
  private readonly scratch: Int32Array
  private readonly scratch2: Int32Array

  // Routing.
  private readonly msgs: Message[] = []
  private active: number[] = []
  private readonly latencies = new Samples()
  private dups = 0
  private maxHop = 0
  private hopLimitStops = 0
  private byGossip = 0
  private lossDrops = 0
  private ihaves = 0
  private iwants = 0

  // Figures.
  private readonly pxHist = new Uint32Array(4096)
  private pxSent = 0
  private pxListTotal = 0
  private emptyPx = 0
  private grafts = 0
  private prunes = 0
  private sampleGrafts = 0
  private samplePrunes = 0
  private rejectedDials = 0
  private left = 0
  private crashed = 0
  private rejoined = 0
  private arrivedCount = 0
  private nextArrival = 0
  private readonly timeline: TimelinePoint[] = []
  private meshSnapshot: Uint32Array | undefined
  private graftsAtSettle = 0
  private prunesAtSettle = 0
  private graftsAtRouting = 0
  private prunesAtRouting = 0
  private readonly arrivalEndMs: number
  private readonly routingStartMs: number
  private readonly endMs: number
  private readonly lossRate: number

  constructor (p: LaunchSimParams) {
    this.p = p
    this.rng = new SimRandom(p.seed)
    this.N = p.peers
    this.B = p.bootstraps
    this.MAXC = p.peerMaxConns
    this.lossRate = p.lossRate
    const N = this.N
    const B = this.B
    const NS = N * this.MAXC
    this.state = new Uint8Array(N)
    this.inc = new Uint16Array(N)
    this.arrivals = new Float64Array(N)
    this.joinedAt = new Float64Array(N).fill(NaN)
    this.firstBootAt = new Float64Array(N).fill(NaN)
    this.firstMeshAt = new Float64Array(N).fill(NaN)
    this.firstDloAt = new Float64Array(N).fill(NaN)
    this.connCount = new Uint8Array(N)
    this.pendDial = new Uint8Array(N)
    this.meshCount = new Uint8Array(N)
    this.bootConns = new Uint8Array(N)
    this.bootDialing = new Uint8Array(N)
    this.bootFailures = new Uint8Array(N)
    this.nextBootDialAt = new Float64Array(N)
    this.nextTopUpAt = new Float64Array(N)
    this.relayOf = new Int16Array(N).fill(-1)
    this.known = new Int32Array(N * Math.max(1, p.prunePeers))
    this.knownLen = new Uint8Array(N)
    this.sPeer = new Int32Array(NS)
    this.sFlags = new Uint8Array(NS)
    this.sBackoff = new Float32Array(NS)
    this.sLat = new Float32Array(NS)
    this.sRelay = new Int16Array(NS)
    this.bFlags = new Uint8Array(N * B)
    this.bConnAt = new Float64Array(N * B)
    this.bHbRef = new Int32Array(N * B)
    this.bBackoff = new Float64Array(N * B)
    this.bLat = new Float32Array(N * B)
    this.bPos = new Int32Array(N * B)
    this.members = []
    this.graftQueue = []
    this.history = []
    for (let b = 0; b < B; b++) {
      this.members.push(new Int32Array(256))
      this.graftQueue.push([])
      this.history.push(new Int32Array(p.pxFromHistory > 0 ? p.pxHistorySize : 0).fill(-1))
    }
    this.memberCount = new Int32Array(B)
    this.graftHead = new Int32Array(B)
    this.hbCount = new Int32Array(B)
    this.lastTrimAt = new Float64Array(B).fill(-Infinity)
    this.trimScheduled = new Uint8Array(B)
    this.bootFig = []
    for (let b = 0; b < B; b++) this.bootFig.push({ peak: 0, accepted: 0, rejected: 0, trimmed: 0, graceTrimmed: 0, pxSent: 0, heartbeats: 0 })
    this.relayRes = new Int32Array(p.relays)
    this.relayConns = new Int32Array(p.relays)
    this.relayPeak = new Int32Array(p.relays)
    this.relayMsgs = new Float64Array(p.relays)
    this.scratch = new Int32Array(this.MAXC + B + 16)
    this.scratch2 = new Int32Array(this.MAXC + B + 16)

    // Arrival times (Poisson flood).
    const rate = p.arrivalWindowMs > 0 ? N / p.arrivalWindowMs : p.arrivalRate / 1000
    let t = 0
    for (let i = 0; i < N; i++) { t += this.rng.exp(1 / rate); this.arrivals[i] = t }
    this.arrivalEndMs = t
    this.routingStartMs = t + p.settleMs
    const nMsgs = p.publishers * p.messagesPerPublisher
    this.endMs = Math.min(p.maxSimMs, this.routingStartMs + Math.max(0, nMsgs - 1) * p.publishIntervalMs + (nMsgs > 0 ? p.drainMs : 0))
  }

  run (): LaunchSimReport {
    const p = this.p
    const q = this.q
    for (let b = 0; b < this.B; b++) q.push(this.rng.float() * p.heartbeatMs, E_HB_BOOT, b)
    q.push(this.arrivals[0]!, E_ARRIVE, 0)
    this.nextArrival = 1
    q.push(0, E_SAMPLE, 0)
    q.push(this.routingStartMs, E_PUBLISH, -1, -1) // marker: snapshot + schedule publishes
    let events = 0
    let stoppedBy: 'done' | 'maxEvents' | 'maxSimMs' = 'done'
    while (q.size > 0) {
      if (q.peekTime() > this.endMs) { if (this.endMs >= p.maxSimMs && this.endMs < this.plannedEnd()) stoppedBy = 'maxSimMs'; break }
      if (events >= p.maxEvents) { stoppedBy = 'maxEvents'; break }
      q.pop()
      events++
      this.dispatch(q.t, q.evType, q.evA, q.evB, q.evC)
    }
    const simTime = Math.min(this.endMs, q.t)
    return this.report(events, simTime, stoppedBy)
  }

  private plannedEnd (): number {
    const nMsgs = this.p.publishers * this.p.messagesPerPublisher
    return this.routingStartMs + Math.max(0, nMsgs - 1) * this.p.publishIntervalMs + (nMsgs > 0 ? this.p.drainMs : 0)
  }

  private dispatch (now: number, type: number, a: number, b: number, c: number): void {
    switch (type) {
      case E_HB_PEER: if (this.state[a] === 1 && this.inc[a] === b) this.peerHeartbeat(now, a); break
      case E_MSG: this.onMsg(now, a, b, c); break
      case E_GRAFT: this.onGraft(now, a, b); break
      case E_PRUNE: this.onPrune(now, a, b); break
      case E_DIAL_DONE: this.onDialDone(now, a, b, c); break
      case E_DIAL_FAIL: if (this.inc[a] === b && this.pendDial[a]! > 0) this.pendDial[a]!--; break
      case E_HB_BOOT: this.bootHeartbeat(now, a); break
      case E_BOOT_GRAFT: this.onBootGraft(now, a, b); break
      case E_BOOT_PRUNE: this.onBootPrune(now, a, b, c); break
      case E_BOOT_DIAL: this.onBootDial(now, a, b, c); break
      case E_BOOT_REJECTED: this.onBootRejected(now, a, b, c); break
      case E_IHAVE: this.onIHave(now, a, b, c); break
      case E_ARRIVE: this.onArrive(now, a, b === 1); break
      case E_PUBLISH: this.onPublish(now, a, b); break
      case E_LEAVE: if (this.state[a] === 1 && this.inc[a] === b) this.onLeave(now, a); break
      case E_DEAD_DETECT: this.onDeadDetect(a, b); break
      case E_BOOT_DEAD: this.onBootDead(a, b); break
      case E_SAMPLE: this.onSample(now); break
      case E_TRIM: this.trimScheduled[a] = 0; this.reactiveTrim(now, a); break
    }
  }

  // ---- latency ----

  private drawLat (): number {
    const l = this.rng.lognormal(this.p.latencyMedianMs, this.p.latencySigma)
    return l < 1 ? 1 : l > 2000 ? 2000 : l
  }

  // ---- arrival, churn ----

  private onArrive (now: number, x: number, rejoin: boolean): void {
    const p = this.p
    if (!rejoin) {
      this.arrivedCount++
      if (this.nextArrival < this.N) { this.q.push(this.arrivals[this.nextArrival]!, E_ARRIVE, this.nextArrival); this.nextArrival++ }
    } else {
      if (this.state[x] !== 2) return
      this.rejoined++
    }
    this.state[x] = 1
    this.inc[x] = (this.inc[x]! + 1) & INC_MASK
    this.joinedAt[x] = now
    this.bootFailures[x] = 0
    this.nextBootDialAt[x] = now
    this.nextTopUpAt[x] = now + p.topUpMs
    if (p.relays > 0 && this.rng.chance(p.relayedFraction)) {
      const start = this.rng.int(p.relays)
      this.relayOf[x] = -2
      for (let k = 0; k < p.relays; k++) {
        const r = (start + k) % p.relays
        if (this.relayRes[r]! < p.relayMaxReservations) { this.relayRes[r]!++; this.relayOf[x] = r; break }
      }
    } else {
      this.relayOf[x] = -1
    }
    this.dialBootstraps(now, x)
    this.q.push(now + this.rng.float() * p.heartbeatMs, E_HB_PEER, x, this.inc[x]!)
    if (p.churnPerMinute > 0) this.q.push(now + this.rng.exp(60_000 / p.churnPerMinute), E_LEAVE, x, this.inc[x]!)
  }

  private onLeave (now: number, x: number): void {
    const p = this.p
    const crash = this.rng.chance(p.crashFraction)
    this.left++
    if (crash) this.crashed++
    const base = x * this.MAXC
    // Light-peer connections: graceful close both sides now; a crash leaves the remote side dead until detected.
    while (this.connCount[x]! > 0) {
      const i = base + this.connCount[x]! - 1
      const y = this.sPeer[i]!
      if (crash) {
        if (this.sRelay[i]! >= 0) this.relayConns[this.sRelay[i]!]!--
        const j = this.findSlot(y, x)
        if (j >= 0) { this.sFlags[j] = this.sFlags[j]! | S_DEAD; this.q.push(now + p.deadDetectMs, E_DEAD_DETECT, y, x) }
        this.dropSlotOneSide(x, i)
      } else {
        this.closeConn(x, y)
      }
    }
    for (let b = 0; b < this.B; b++) {
      const k = x * this.B + b
      const f = this.bFlags[k]!
      if ((f & B_CONN) === 0 || (f & B_DEAD) !== 0) { if ((f & B_CONN) === 0) this.bFlags[k] = 0; continue }
      if (crash) {
        this.bFlags[k] = B_CONN | B_DEAD | (f & B_PXDONE)
        this.q.push(now + p.bootstrapDeadMs, E_BOOT_DEAD, b, x)
      } else {
        this.closeBoot(x, b)
      }
    }
    this.bootConns[x] = 0
    this.meshCount[x] = 0
    this.pendDial[x] = 0
    this.bootDialing[x] = 0
    const r = this.relayOf[x]!
    if (r >= 0) this.relayRes[r]!--
    this.relayOf[x] = -1
    this.state[x] = 2
    if (p.rejoinAfterMs > 0) this.q.push(now + p.rejoinAfterMs, E_ARRIVE, x, 1)
  }

  private onDeadDetect (y: number, x: number): void {
    const j = this.findSlot(y, x)
    if (j >= 0 && (this.sFlags[j]! & S_DEAD) !== 0) {
      if ((this.sFlags[j]! & S_MESH) !== 0) this.meshCount[y]!--
      this.dropSlotOneSide(y, j)
    }
  }

  private onBootDead (b: number, x: number): void {
    const k = x * this.B + b
    if ((this.bFlags[k]! & B_DEAD) !== 0) { this.removeMember(b, x); this.bFlags[k] = this.bFlags[k]! & B_DIALING }
  }

  // ---- bootstrap dialling and connection management ----

  private dialBootstraps (now: number, x: number): void {
    const p = this.p
    const list = Math.min(this.B, p.bootstrapsPerPeer)
    const order = this.scratch2
    for (let b = 0; b < this.B; b++) order[b] = b
    for (let k = 0; k < list; k++) {
      const r = k + this.rng.int(this.B - k)
      const b = order[r]!
      order[r] = order[k]!
      order[k] = b
      const kk = x * this.B + b
      if ((this.bFlags[kk]! & (B_CONN | B_DIALING)) !== 0 && (this.bFlags[kk]! & B_DEAD) === 0) continue
      this.bFlags[kk] = this.bFlags[kk]! | B_DIALING
      this.bootDialing[x]!++
      const lat = this.drawLat()
      this.q.push(now + p.dialRtts * 2 * lat, E_BOOT_DIAL, x, b, packLat(lat, this.inc[x]!))
    }
  }

  private onBootDial (now: number, x: number, b: number, c: number): void {
    const k = x * this.B + b
    if (this.inc[x] !== (c >>> 21) || this.state[x] !== 1) return
    this.bFlags[k] = this.bFlags[k]! & ~B_DIALING
    this.bootDialing[x]!--
    const lat = (c & 0x1fffff) / LAT_SCALE
    if ((this.bFlags[k]! & B_DEAD) !== 0) { this.removeMember(b, x); this.bFlags[k] = 0 } // replaced by the new connection
    if (!this.admit(now, b)) {
      this.bootFig[b]!.rejected++
      this.rejectedDials++
      this.q.push(now + lat, E_BOOT_REJECTED, x, b, this.inc[x]!)
      return
    }
    this.bootFig[b]!.accepted++
    this.bFlags[k] = B_CONN
    this.bConnAt[k] = now
    this.bHbRef[k] = this.hbCount[b]!
    this.bLat[k] = lat
    this.addMember(b, x)
    this.bootConns[x]!++
    this.bootFailures[x] = 0
    if (Number.isNaN(this.firstBootAt[x]!)) this.firstBootAt[x] = now
    if (this.p.pxOnArrival) this.q.push(now + 2 * lat, E_BOOT_GRAFT, b, x)
    if (this.p.trimMode === 'reactive' && this.memberCount[b]! > this.p.high) this.reactiveTrim(now, b)
  }

  private onBootRejected (now: number, x: number, _b: number, inc: number): void {
    if (this.inc[x] !== inc || this.state[x] !== 1) return
    if (this.bootDialing[x]! > 0 || this.bootConns[x]! > 0) return
    const p = this.p
    const f = Math.min(this.bootFailures[x]! + 1, 255)
    this.bootFailures[x] = f
    this.nextBootDialAt[x] = now + Math.min(p.redialMs * 2 ** Math.min(f - 1, 6), p.maxRedialMs)
  }

  /** Gate mode: make room (trim, then emergency trim) or refuse. Reactive mode: always accept. */
  private admit (now: number, b: number): boolean {
    const p = this.p
    if (p.trimMode === 'reactive') return true
    if (this.memberCount[b]! < p.high) return true
    this.trim(now, b, false)
    if (this.memberCount[b]! >= p.high && p.trimGraceAfterPx) this.trim(now, b, true)
    return this.memberCount[b]! < p.high
  }

  private reactiveTrim (now: number, b: number): void {
    const p = this.p
    if (this.memberCount[b]! <= p.high) return
    if (now - this.lastTrimAt[b]! >= p.trimSilenceMs) {
      this.lastTrimAt[b] = now
      this.trim(now, b, false)
      if (this.memberCount[b]! > p.high && p.trimGraceAfterPx) this.trim(now, b, true)
    } else if (this.trimScheduled[b] === 0) {
      this.trimScheduled[b] = 1
      this.q.push(this.lastTrimAt[b]! + p.trimSilenceMs, E_TRIM, b)
    }
  }

  private trim (now: number, b: number, emergency: boolean): void {
    const p = this.p
    const n = this.memberCount[b]!
    const excess = n - p.low
    if (excess <= 0) return
    const mem = this.members[b]!
    // Candidates for src/peer/connection-trimmer.ts's order. A live peer has its gossipsub streams (2), a
    // crashed one 0; tag value 1 until the peer has had PX. The grace-period pass (sim-only policy) offers
    // only grace-period peers already given PX or dead, with the grace filter off and the emergency order.
    const cands: TrimCandidate[] = []
    for (let i = 0; i < n; i++) {
      const x = mem[i]!
      const k = x * this.B + b
      const f = this.bFlags[k]!
      const openedAt = this.bConnAt[k]!
      const streams = (f & B_DEAD) !== 0 ? 0 : 2
      const tagValue = (f & B_PXDONE) !== 0 ? 0 : 1
      if (emergency && !(now - openedAt < p.graceMs && (streams === 0 || tagValue === 0))) continue
      cands.push({ id: String(x), peer: String(x), direction: 'inbound', streams, openedAt, tagValue, temporary: false, protected: false })
    }
    const order = orderForTrim(cands, { now, gracePeriodMs: emergency ? 0 : p.graceMs, emergency })
    const count = Math.min(excess, order.length)
    for (let i = 0; i < count; i++) {
      const x = Number(order[i]!.peer)
      const k = x * this.B + b
      if ((this.bFlags[k]! & B_QUEUED) !== 0) this.graftsNeverPruned++
      if ((this.bFlags[k]! & B_DEAD) !== 0) { this.removeMember(b, x); this.bFlags[k] = this.bFlags[k]! & B_DIALING } else this.closeBoot(x, b)
      if (emergency) this.bootFig[b]!.graceTrimmed++; else this.bootFig[b]!.trimmed++
    }
  }

  private graftsNeverPruned = 0

  private addMember (b: number, x: number): void {
    let mem = this.members[b]!
    const n = this.memberCount[b]!
    if (n === mem.length) { const m2 = new Int32Array(mem.length * 2); m2.set(mem); this.members[b] = mem = m2 }
    mem[n] = x
    this.bPos[x * this.B + b] = n
    this.memberCount[b] = n + 1
    if (n + 1 > this.bootFig[b]!.peak) this.bootFig[b]!.peak = n + 1
  }

  private removeMember (b: number, x: number): void {
    const mem = this.members[b]!
    const n = this.memberCount[b]! - 1
    const pos = this.bPos[x * this.B + b]!
    const last = mem[n]!
    mem[pos] = last
    this.bPos[last * this.B + b] = pos
    this.memberCount[b] = n
  }

  /** Closes a live bootstrap connection on both sides. */
  private closeBoot (x: number, b: number): void {
    const k = x * this.B + b
    if ((this.bFlags[k]! & B_CONN) === 0) return
    this.removeMember(b, x)
    this.bFlags[k] = this.bFlags[k]! & B_DIALING
    if (this.state[x] === 1 && this.bootConns[x]! > 0) this.bootConns[x]!--
  }

  private bootHeartbeat (now: number, b: number): void {
    const p = this.p
    this.q.push(now + p.heartbeatMs, E_HB_BOOT, b)
    const hb = ++this.hbCount[b]!
    this.bootFig[b]!.heartbeats++
    const queue = this.graftQueue[b]!
    let head = this.graftHead[b]!
    let budget = p.bootstrapPxPerHeartbeat
    while (head < queue.length && budget > 0) {
      const x = queue[head++]!
      const k = x * this.B + b
      const f = this.bFlags[k]!
      if ((f & B_QUEUED) === 0 || (f & B_CONN) === 0 || (f & B_DEAD) !== 0) continue
      budget--
      // PRUNE with PX: up to prunePeers connected peers with signed (dialable) records.
      const start = this.pxRingPos
      const len = this.pickPx(b, x)
      const hist = this.history[b]!
      if (hist.length > 0 && this.relayOf[x] !== -2) hist[this.rng.int(hist.length)] = x
      const spent = hb - this.bHbRef[k]!
      this.pxHist[Math.min(spent, this.pxHist.length - 1)]!++
      this.pxSent++
      this.bootFig[b]!.pxSent++
      this.pxListTotal += len
      if (len === 0) this.emptyPx++
      this.bFlags[k] = (f & ~B_QUEUED) | B_PXDONE
      this.bBackoff[k] = now + p.pruneBackoffMs
      this.q.push(now + this.bLat[k]!, E_BOOT_PRUNE, x, b, (start << 6) | len)
    }
    if (head === queue.length) { queue.length = 0; head = 0 } else if (head > 4096) { queue.splice(0, head); head = 0 }
    this.graftHead[b] = head
  }

  private pickPx (b: number, x: number): number {
    const want = this.p.prunePeers
    const mem = this.members[b]!
    const n = this.memberCount[b]!
    const ring = this.pxRing
    let len = 0
    const push = (y: number): void => { ring[(this.pxRingPos + len) & (PX_RING - 1)] = y; len++ }
    const ok = (y: number): boolean => y >= 0 && y !== x && this.relayOf[y] !== -2
    const fresh = (y: number): boolean => {
      for (let j = 0; j < len; j++) if (ring[(this.pxRingPos + j) & (PX_RING - 1)] === y) return false
      return true
    }
    const hist = this.history[b]!
    if (hist.length > 0) {
      const fromHist = Math.min(this.p.pxFromHistory, want)
      for (let tries = 0; tries < fromHist * 4 && len < fromHist; tries++) {
        const y = hist[this.rng.int(hist.length)]!
        if (ok(y) && fresh(y)) push(y)
      }
    }
    if (n - 1 <= want - len) {
      for (let i = 0; i < n && len < want; i++) if (ok(mem[i]!) && fresh(mem[i]!)) push(mem[i]!)
    } else {
      for (let tries = 0; tries < want * 4 && len < want; tries++) {
        const y = mem[this.rng.int(n)]!
        if (ok(y) && fresh(y)) push(y)
      }
    }
    this.pxRingPos = (this.pxRingPos + len) & (PX_RING - 1)
    return len
  }

  private onBootGraft (now: number, b: number, x: number): void {
    const k = x * this.B + b
    const f = this.bFlags[k]!
    if ((f & B_CONN) === 0 || (f & B_DEAD) !== 0 || (f & B_QUEUED) !== 0) return
    if ((f & B_PXDONE) !== 0) this.bHbRef[k] = this.hbCount[b]! // a repeat GRAFT: count from now
    this.bFlags[k] = f | B_QUEUED
    this.graftQueue[b]!.push(x)
    void now
  }

  private onBootPrune (now: number, x: number, b: number, c: number): void {
    if (this.state[x] !== 1) return
    const k = x * this.B + b
    this.bBackoff[k] = now + this.p.pruneBackoffMs
    this.bFlags[k] = (this.bFlags[k]! & ~B_GRAFTED) | B_PXDONE
    const start = c >>> 6
    const len = c & 63
    const W = Math.max(1, this.p.prunePeers)
    const kb = x * W
    let kl = 0
    for (let i = 0; i < len && kl < W; i++) this.known[kb + kl++] = this.pxRing[(start + i) & (PX_RING - 1)]!
    this.knownLen[x] = kl
    this.dialKnown(now, x, this.p.pxDialMax)
  }

  // ---- light-peer connections ----

  private findSlot (x: number, y: number): number {
    const base = x * this.MAXC
    const end = base + this.connCount[x]!
    const sp = this.sPeer
    for (let i = base; i < end; i++) if (sp[i] === y) return i
    return -1
  }

  /** Dials up to `max` peers from x's known list that are not connected yet. */
  private dialKnown (now: number, x: number, max: number): void {
    const p = this.p
    const W = Math.max(1, p.prunePeers)
    const len = this.knownLen[x]!
    let dialled = 0
    for (let i = 0; i < len && dialled < max; i++) {
      if (this.connCount[x]! + this.pendDial[x]! >= this.MAXC) break
      const y = this.known[x * W + i]!
      if (y === x || this.findSlot(x, y) >= 0) continue
      dialled++
      this.pendDial[x]!++
      const r = this.relayOf[y]!
      let lat = this.drawLat()
      if (r >= 0) lat += this.drawLat()
      this.q.push(now + p.dialRtts * 2 * lat, E_DIAL_DONE, x, y, packLat(lat, this.inc[x]!))
    }
  }

  private onDialDone (now: number, x: number, y: number, c: number): void {
    if (this.inc[x] !== (c >>> 21)) return
    if (this.pendDial[x]! > 0) this.pendDial[x]!--
    if (this.state[x] !== 1) return
    const lat = (c & 0x1fffff) / LAT_SCALE
    if (this.state[y] !== 1 || this.relayOf[y] === -2) {
      // No answer: the dial times out.
      this.pendDial[x]!++
      this.q.push(now - this.p.dialRtts * 2 * lat + this.p.dialTimeoutMs, E_DIAL_FAIL, x, this.inc[x]!)
      return
    }
    const j = this.findSlot(y, x)
    if (j >= 0) {
      if ((this.sFlags[j]! & S_DEAD) === 0) return // already connected (simultaneous dial)
      if ((this.sFlags[j]! & S_MESH) !== 0) this.meshCount[y]!--
      this.dropSlotOneSide(y, j)
    }
    if (this.findSlot(x, y) >= 0) return
    if (this.connCount[y]! >= this.MAXC || this.connCount[x]! >= this.MAXC) return // refused: full
    const r = this.relayOf[y]!
    this.addSlot(x, y, S_OUT, lat, r >= 0 ? r : -1)
    this.addSlot(y, x, 0, lat, r >= 0 ? r : -1)
    if (r >= 0) { this.relayConns[r]!++; if (this.relayConns[r]! > this.relayPeak[r]!) this.relayPeak[r] = this.relayConns[r]! }
    this.maybeRelease(x)
    this.maybeRelease(y)
  }

  private addSlot (x: number, y: number, flags: number, lat: number, relay: number): void {
    const i = x * this.MAXC + this.connCount[x]!
    this.sPeer[i] = y; this.sFlags[i] = flags; this.sBackoff[i] = 0; this.sLat[i] = lat; this.sRelay[i] = relay
    this.connCount[x]!++
  }

  /** Removes slot i of x (swap with the last). Does not touch mesh counts. */
  private dropSlotOneSide (x: number, i: number): void {
    const last = x * this.MAXC + this.connCount[x]! - 1
    if (i !== last) {
      this.sPeer[i] = this.sPeer[last]!; this.sFlags[i] = this.sFlags[last]!; this.sBackoff[i] = this.sBackoff[last]!
      this.sLat[i] = this.sLat[last]!; this.sRelay[i] = this.sRelay[last]!
    }
    this.connCount[x]!--
  }

  private closeConn (x: number, y: number): void {
    const i = this.findSlot(x, y)
    if (i >= 0) {
      const r = this.sRelay[i]!
      if (r >= 0) this.relayConns[r]!--
      if ((this.sFlags[i]! & S_MESH) !== 0) this.meshCount[x]!--
      this.dropSlotOneSide(x, i)
    }
    const j = this.findSlot(y, x)
    if (j >= 0) {
      if ((this.sFlags[j]! & S_MESH) !== 0) this.meshCount[y]!--
      this.dropSlotOneSide(y, j)
    }
  }

  /** Release policy: hang up bootstraps once enough light-peer connections exist. */
  private maybeRelease (x: number): void {
    const at = this.p.releaseBootstrapAt
    if (at <= 0 || this.bootConns[x] === 0 || this.connCount[x]! < at) return
    for (let b = 0; b < this.B; b++) if ((this.bFlags[x * this.B + b]! & B_CONN) !== 0) this.closeBoot(x, b)
  }

  // ---- gossipsub mesh ----

  private peerHeartbeat (now: number, x: number): void {
    const p = this.p
    this.q.push(now + p.heartbeatMs, E_HB_PEER, x, this.inc[x]!)
    const base = x * this.MAXC
    const n = this.connCount[x]!
    // Dialer: bootstraps, then known peers.
    if (this.bootConns[x] === 0 && this.bootDialing[x] === 0 && now >= this.nextBootDialAt[x]! &&
      (p.releaseBootstrapAt <= 0 || n < p.minPeers)) {
      this.nextBootDialAt[x] = now + p.redialMs
      this.dialBootstraps(now, x)
    }
    if (now >= this.nextTopUpAt[x]!) {
      this.nextTopUpAt[x] = now + p.topUpMs
      if (n + this.pendDial[x]! < p.minPeers) this.dialKnown(now, x, p.minPeers - n - this.pendDial[x]!)
    }
    this.maybeRelease(x)
    // Mesh maintenance.
    let m = this.meshCount[x]!
    let bootGrafted = 0
    if (this.bootConns[x]! > 0) for (let b = 0; b < this.B; b++) if ((this.bFlags[x * this.B + b]! & B_GRAFTED) !== 0) bootGrafted++
    if (m + bootGrafted < p.Dlo) {
      const need = p.D - m - bootGrafted
      let nc = 0
      const sc = this.scratch
      for (let i = base; i < base + n; i++) {
        const f = this.sFlags[i]!
        if ((f & S_MESH) === 0 && this.sBackoff[i]! <= now) sc[nc++] = i
      }
      if (this.bootConns[x]! > 0) {
        for (let b = 0; b < this.B; b++) {
          const k = x * this.B + b
          if ((this.bFlags[k]! & (B_CONN | B_GRAFTED)) === B_CONN && this.bBackoff[k]! <= now) sc[nc++] = -1 - b
        }
      }
      for (let s = 0; s < need && s < nc; s++) {
        const r = s + this.rng.int(nc - s)
        const v = sc[r]!
        sc[r] = sc[s]!
        sc[s] = v
        if (v >= 0) {
          this.sFlags[v] = this.sFlags[v]! | S_MESH
          m++
          this.grafts++
          this.q.push(now + this.sLat[v]!, E_GRAFT, this.sPeer[v]!, x)
        } else {
          const b = -1 - v
          const k = x * this.B + b
          this.bFlags[k] = this.bFlags[k]! | B_GRAFTED
          this.q.push(now + this.bLat[k]!, E_BOOT_GRAFT, b, x)
        }
      }
      this.meshCount[x] = m
    } else if (m > p.Dhi) {
      this.pruneDown(now, x)
      m = this.meshCount[x]!
    }
    if (m > 0 && Number.isNaN(this.firstMeshAt[x]!)) this.firstMeshAt[x] = now
    if (m >= p.Dlo && Number.isNaN(this.firstDloAt[x]!)) this.firstDloAt[x] = now
    if (this.active.length > 0) this.emitGossip(now, x)
  }

  private pruneDown (now: number, x: number): void {
    const p = this.p
    const base = x * this.MAXC
    const n = this.connCount[x]!
    const sc = this.scratch
    let nm = 0
    for (let i = base; i < base + n; i++) if ((this.sFlags[i]! & S_MESH) !== 0) sc[nm++] = i
    for (let i = nm - 1; i > 0; i--) { const r = this.rng.int(i + 1); const v = sc[r]!; sc[r] = sc[i]!; sc[i] = v }
    // Keep Dout outbound first, then fill to D in shuffled order.
    const keep = this.scratch2
    let kept = 0
    let out = 0
    for (let s = 0; s < nm && out < p.Dout && kept < p.D; s++) {
      const i = sc[s]!
      if (i >= 0 && (this.sFlags[i]! & S_OUT) !== 0) { keep[kept++] = i; sc[s] = -1; out++ }
    }
    for (let s = 0; s < nm && kept < p.D; s++) { const i = sc[s]!; if (i >= 0) { keep[kept++] = i; sc[s] = -1 } }
    for (let s = 0; s < nm; s++) {
      const i = sc[s]!
      if (i < 0) continue
      this.sendPrune(now, x, i)
    }
  }

  private sendPrune (now: number, x: number, i: number): void {
    if ((this.sFlags[i]! & S_MESH) !== 0) { this.sFlags[i] = this.sFlags[i]! & ~S_MESH; this.meshCount[x]!-- }
    this.sBackoff[i] = now + this.p.pruneBackoffMs
    this.prunes++
    this.q.push(now + this.sLat[i]!, E_PRUNE, this.sPeer[i]!, x)
  }

  private onGraft (now: number, y: number, x: number): void {
    if (this.state[y] !== 1) return
    const j = this.findSlot(y, x)
    if (j < 0) return
    const f = this.sFlags[j]!
    if ((f & (S_MESH | S_DEAD)) !== 0) return
    if (this.sBackoff[j]! > now || (this.meshCount[y]! >= this.p.Dhi && (f & S_OUT) === 0)) {
      this.sendPrune(now, y, j)
      return
    }
    this.sFlags[j] = f | S_MESH
    const m = ++this.meshCount[y]!
    if (Number.isNaN(this.firstMeshAt[y]!)) this.firstMeshAt[y] = now
    if (m >= this.p.Dlo && Number.isNaN(this.firstDloAt[y]!)) this.firstDloAt[y] = now
  }

  private onPrune (now: number, y: number, x: number): void {
    if (this.state[y] !== 1) return
    const j = this.findSlot(y, x)
    if (j < 0) return
    if ((this.sFlags[j]! & S_MESH) !== 0) { this.sFlags[j] = this.sFlags[j]! & ~S_MESH; this.meshCount[y]!-- }
    this.sBackoff[j] = now + this.p.pruneBackoffMs
  }

  // ---- routing ----

  private onPublish (now: number, x: number, mi: number): void {
    const p = this.p
    if (x === -1) {
      // Routing starts: snapshot the mesh, pick publishers, schedule their messages.
      this.snapshotMesh()
      this.graftsAtRouting = this.grafts
      this.prunesAtRouting = this.prunes
      const pubs: number[] = []
      const online: number[] = []
      for (let i = 0; i < this.N; i++) if (this.state[i] === 1) online.push(i)
      for (let k = 0; k < p.publishers && online.length > 0; k++) pubs.push(online[this.rng.int(online.length)]!)
      let idx = 0
      for (let j = 0; j < p.messagesPerPublisher; j++) {
        for (const pub of pubs) { this.q.push(now + idx * p.publishIntervalMs, E_PUBLISH, pub, idx); idx++ }
      }
      return
    }
    const N = this.N
    const msg: Message = { publisher: x, publishAt: now, recvAt: new Float64Array(N).fill(NaN), best: new Float64Array(N).fill(Infinity), hop: new Uint8Array(N) }
    this.msgs[mi] = msg
    this.active.push(mi)
    if (this.state[x] !== 1) return
    msg.recvAt[x] = now
    msg.best[x] = now
    const base = x * this.MAXC
    const n = this.connCount[x]!
    for (let i = base; i < base + n; i++) {
      if (!p.floodPublish && (this.sFlags[i]! & S_MESH) === 0) continue
      this.sendMsg(now, msg, mi, i, 1, 0)
    }
  }

  private sendMsg (now: number, msg: Message, mi: number, slot: number, hop: number, gossip: number): void {
    const y = this.sPeer[slot]!
    const r = this.sRelay[slot]!
    if (r >= 0) this.relayMsgs[r]!++
    if (this.lossRate > 0 && this.rng.float() < this.lossRate) { this.lossDrops++; return }
    const at = now + this.sLat[slot]! + this.p.msgProcMs
    if (at >= msg.best[y]!) { this.dups++; return }
    msg.best[y] = at
    this.q.push(at, E_MSG, y, mi, (Math.floor(slot / this.MAXC) << 9) | (gossip << 8) | hop)
  }

  private onMsg (now: number, y: number, mi: number, c: number): void {
    if (this.state[y] !== 1) return
    const msg = this.msgs[mi]!
    if (!Number.isNaN(msg.recvAt[y]!)) { this.dups++; return }
    const hop = c & 0xff
    const from = c >>> 9
    msg.recvAt[y] = now
    msg.hop[y] = hop
    if (hop > this.maxHop) this.maxHop = hop
    if ((c & 0x100) !== 0) this.byGossip++
    if (hop >= this.p.maxHops) { if (this.meshCount[y]! > 0) this.hopLimitStops++; return }
    const base = y * this.MAXC
    const n = this.connCount[y]!
    for (let i = base; i < base + n; i++) {
      if ((this.sFlags[i]! & S_MESH) === 0) continue
      const z = this.sPeer[i]!
      // gossipsub skips the peer it came from and the source; that others already have it, it cannot know.
      if (z === from || z === msg.publisher) continue
      this.sendMsg(now, msg, mi, i, hop + 1, 0)
    }
  }

  private emitGossip (now: number, x: number): void {
    const p = this.p
    const window = p.historyGossip * p.heartbeatMs
    const base = x * this.MAXC
    const n = this.connCount[x]!
    for (let a = 0; a < this.active.length; a++) {
      const mi = this.active[a]!
      const msg = this.msgs[mi]!
      const r = msg.recvAt[x]!
      if (Number.isNaN(r) || now - r > window) continue
      // Dlazy random non-mesh peers.
      const sc = this.scratch
      let nc = 0
      for (let i = base; i < base + n; i++) if ((this.sFlags[i]! & (S_MESH | S_DEAD)) === 0) sc[nc++] = i
      for (let s = 0; s < p.Dlazy && s < nc; s++) {
        const rr = s + this.rng.int(nc - s)
        const i = sc[rr]!
        sc[rr] = sc[s]!
        sc[s] = i
        this.ihaves++
        const y = this.sPeer[i]!
        const at = now + this.sLat[i]!
        if (msg.best[y]! <= at) continue // will already have it: the IHAVE is ignored
        if (this.lossRate > 0 && this.rng.float() < this.lossRate) { this.lossDrops++; continue }
        this.q.push(at, E_IHAVE, y, x, mi)
      }
    }
  }

  private onIHave (now: number, y: number, x: number, mi: number): void {
    if (this.state[y] !== 1) return
    const msg = this.msgs[mi]!
    if (!Number.isNaN(msg.recvAt[y]!)) return
    const j = this.findSlot(y, x)
    if (j < 0) return
    this.iwants++
    const p = this.p
    if (this.lossRate > 0 && this.rng.float() < this.lossRate) { this.lossDrops++; return }
    const lat = this.sLat[j]!
    // x answers the IWANT if the message is still in its mcache when the request arrives.
    if (this.state[x] !== 1 || now + lat - msg.recvAt[x]! > p.mcacheLen * p.heartbeatMs) return
    const i = this.findSlot(x, y)
    if (i < 0) return
    this.sendMsg(now + lat, msg, mi, i, msg.hop[x]! + 1, 1)
  }

  // ---- sampling and report ----

  private snapshotMesh (): void {
    const hist = new Uint32Array(256)
    for (let i = 0; i < this.N; i++) if (this.state[i] === 1) hist[this.meshCount[i]!]!++
    this.meshSnapshot = hist
  }

  private onSample (now: number): void {
    const p = this.p
    if (now + p.sampleEveryMs <= this.endMs) this.q.push(now + p.sampleEveryMs, E_SAMPLE, 0)
    if (Number.isNaN(this.settleMarkAt) && now >= this.arrivalEndMs) { this.graftsAtSettle = this.grafts; this.prunesAtSettle = this.prunes; this.settleMarkAt = now }
    let online = 0
    let onBoot = 0
    let meshed = 0
    for (let i = 0; i < this.N; i++) {
      if (this.state[i] !== 1) continue
      online++
      if (this.bootConns[i]! > 0) onBoot++
      if (this.meshCount[i]! >= p.Dlo) meshed++
    }
    let total = 0
    let max = 0
    for (let b = 0; b < this.B; b++) { total += this.memberCount[b]!; if (this.memberCount[b]! > max) max = this.memberCount[b]! }
    this.timeline.push({
      tMs: Math.round(now), arrived: this.arrivedCount, online, onBootstrap: onBoot, meshedDlo: meshed, bootstrapConns: total, maxBootstrapConns: max,
      grafts: this.grafts - this.sampleGrafts, prunes: this.prunes - this.samplePrunes
    })
    this.sampleGrafts = this.grafts
    this.samplePrunes = this.prunes
  }

  private settleMarkAt = NaN

  private report (events: number, simTime: number, stoppedBy: 'done' | 'maxEvents' | 'maxSimMs'): LaunchSimReport {
    const p = this.p
    const N = this.N
    if (this.meshSnapshot === undefined) this.snapshotMesh()
    const mesh = this.meshSnapshot!
    let below = 0
    for (let k = 0; k < p.Dlo; k++) below += mesh[k]!
    const meshDegree = histQuantiles(mesh)
    const ttm = new Samples()
    let arrived = 0
    let neverBoot = 0
    let neverMesh = 0
    let bootNoMesh = 0
    let noSlot = 0
    for (let i = 0; i < N; i++) {
      if (this.state[i] === 0) continue
      arrived++
      const nb = Number.isNaN(this.firstBootAt[i]!)
      const nm = Number.isNaN(this.firstMeshAt[i]!)
      if (nb) neverBoot++
      if (nm) neverMesh++
      if (!nb && nm) bootNoMesh++
      if (this.relayOf[i] === -2) noSlot++
      if (!Number.isNaN(this.firstDloAt[i]!)) ttm.add(this.firstDloAt[i]! - this.arrivals[i]!)
    }
    let pending = 0
    for (let b = 0; b < this.B; b++) {
      const queue = this.graftQueue[b]!
      for (let h = this.graftHead[b]!; h < queue.length; h++) if ((this.bFlags[queue[h]! * this.B + b]! & B_QUEUED) !== 0) pending++
    }
    const pxQ = histQuantiles(this.pxHist)
    let over3 = 0
    for (let k = 4; k < this.pxHist.length; k++) over3 += this.pxHist[k]!
    const graftsNeverPruned = this.graftsNeverPruned + pending

    // Routing.
    let expected = 0
    let delivered = 0
    for (const msg of this.msgs) {
      if (msg === undefined) continue
      for (let i = 0; i < N; i++) {
        if (i === msg.publisher || this.state[i] !== 1 || !(this.joinedAt[i]! <= msg.publishAt)) continue
        expected++
        const r = msg.recvAt[i]!
        if (!Number.isNaN(r)) { delivered++; this.latencies.add(r - msg.publishAt) }
      }
    }
    const nMsgs = this.msgs.filter((m) => m !== undefined).length
    const loss = expected > 0 ? round3((expected - delivered) / expected * 1e6) / 1e6 : 0

    let peak = 0
    for (const f of this.bootFig) if (f.peak > peak) peak = f.peak
    const breached = peak > p.high
    const settleStart = Number.isNaN(this.settleMarkAt) ? this.arrivalEndMs : this.settleMarkAt
    const settleWindow = Math.max(0, Math.min(this.routingStartMs, simTime) - settleStart)
    const perMin = (n: number, ms: number): number => ms > 0 ? round3(n / ms * 60_000) : 0
    const gpm = perMin(this.graftsAtRouting - this.graftsAtSettle, settleWindow)
    const ppm = perMin(this.prunesAtRouting - this.prunesAtSettle, settleWindow)
    const routingWindow = Math.max(0, simTime - this.routingStartMs)
    const pxPass = pxQ.max <= 3 && graftsNeverPruned === 0

    return {
      params: { ...p },
      run: { events, simTimeMs: Math.round(simTime), peakQueue: this.q.peak, stoppedBy, arrivalEndMs: Math.round(this.arrivalEndMs), routingStartMs: Math.round(this.routingStartMs) },
      peerExchange: {
        pass: pxPass,
        pxSent: this.pxSent,
        heartbeatsOnBootstrap: pxQ,
        over3Heartbeats: over3,
        graftsNeverPruned,
        emptyPxLists: this.emptyPx,
        meanPxListSize: this.pxSent > 0 ? round3(this.pxListTotal / this.pxSent) : 0,
        meshDegree,
        peersBelowDlo: below,
        peersWithEmptyMesh: mesh[0]!,
        timeToMeshMs: ttm.quantiles()
      },
      connectionManagement: {
        pass: !breached,
        high: p.high,
        low: p.low,
        peak,
        breached,
        bootstraps: this.bootFig.map((f) => ({ ...f })),
        rejectedDials: this.rejectedDials
      },
      routing: {
        pass: nMsgs > 0 && delivered === expected,
        messages: nMsgs,
        expectedDeliveries: expected,
        delivered,
        loss,
        latencyMs: this.latencies.quantiles(),
        duplicatesPerDelivery: delivered > 0 ? round3(this.dups / delivered) : 0,
        maxHop: this.maxHop,
        hopLimitStops: this.hopLimitStops,
        deliveredByGossip: this.byGossip,
        droppedByLossModel: this.lossDrops,
        ihaveSent: this.ihaves,
        iwantSent: this.iwants,
        relays: Array.from({ length: p.relays }, (_, r) => ({ reservations: this.relayRes[r]!, peakRelayedConns: this.relayPeak[r]!, relayedMessages: this.relayMsgs[r]! }))
      },
      upperLimits: {
        pass: neverBoot === 0 && neverMesh === 0,
        arrived,
        neverReachedBootstrap: neverBoot,
        reachedBootstrapNeverMeshed: bootNoMesh,
        neverMeshed: neverMesh,
        unreachableNoRelaySlot: noSlot
      },
      meshStability: {
        settleWindowMs: Math.round(settleWindow),
        graftsPerMinute: gpm,
        prunesPerMinute: ppm,
        perThousandPeersPerMinute: arrived > 0 ? round3((gpm + ppm) / arrived * 1000) : 0,
        routingWindowGraftsPerMinute: perMin(this.grafts - this.graftsAtRouting, routingWindow),
        routingWindowPrunesPerMinute: perMin(this.prunes - this.prunesAtRouting, routingWindow),
        totalGrafts: this.grafts,
        totalPrunes: this.prunes
      },
      churn: { left: this.left, crashed: this.crashed, rejoined: this.rejoined },
      timeline: this.timeline
    }
  }
}

function packLat (lat: number, inc: number): number {
  return ((inc & INC_MASK) << 21) | Math.min(0x1fffff, Math.round(lat * LAT_SCALE))
}
