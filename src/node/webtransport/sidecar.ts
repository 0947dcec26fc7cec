/**
 * The WebTransport sidecar: a Deno program (Node has no QUIC server) that terminates QUIC + HTTP/3
 * WebTransport sessions for one node and relays every session and stream to that node over loopback TCP
 * (framing in ./frames.ts). It knows nothing of libp2p: the node runs the Noise handshake, the connection
 * gater, the upgrader and every protocol on the relayed streams (src/node/webtransport/transport.ts).
 *
 * Started by the node (./sidecar-process.ts) as
 *   deno run --unstable-net --v8-flags=--expose-gc --allow-net --allow-env=LIGHTPULSE_WT sidecar.ts
 * with LIGHTPULSE_WT = JSON { hostname, port, cert, key, bridgePort, token }.
 * stdout: JSON lines {"listening":{hostname,port}} | {"rotated":true} | {"error":msg}.
 * stdin: JSON lines {"cert","key"} to serve a new certificate to new sessions (existing sessions go on).
 */
import { BridgeReader, FRAME_DATA, FRAME_FIN, FRAME_RESET, FRAME_STOP, dataFrames, encodeFrame, encodeLine } from './frames.ts'

// Deno's unstable QUIC API, typed here so that the node's TypeScript build does not need Deno's types.
interface DenoConn { read (b: Uint8Array): Promise<number | null>, write (b: Uint8Array): Promise<number>, close (): void }
interface WtStream { readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array> }
interface WtSession {
  ready: Promise<void>
  closed: Promise<unknown>
  close (info?: { closeCode?: number, reason?: string }): void
  createBidirectionalStream (): Promise<WtStream>
  incomingBidirectionalStreams: ReadableStream<WtStream>
}
interface QuicConn { remoteAddr: { hostname: string, port: number }, closed: Promise<unknown> }
interface QuicIncoming { accept (): Promise<QuicConn> }
interface QuicListener extends AsyncIterable<QuicIncoming> { stop (): void }
interface QuicEndpoint { addr: { hostname: string, port: number }, listen (o: { cert: string, key: string, alpnProtocols: string[] }): QuicListener }
interface DenoApi {
  env: { get (k: string): string | undefined }
  stdin: { readable: ReadableStream<Uint8Array> }
  stdout: { writeSync (b: Uint8Array): number }
  exit (code: number): never
  QuicEndpoint: new (o: { hostname: string, port: number }) => QuicEndpoint
  upgradeWebTransport (conn: QuicConn): Promise<WtSession>
  connect (o: { hostname: string, port: number }): Promise<DenoConn>
}
const D = (globalThis as unknown as { Deno: DenoApi }).Deno

interface Config { hostname: string, port: number, cert: string, key: string, bridgePort: number, token: string, trace?: boolean }
const config = JSON.parse(D.env.get('LIGHTPULSE_WT') ?? '{}') as Config
const t0 = Date.now()
const trace = (...a: unknown[]): void => { if (config.trace === true) console.error('WTSIDE', Date.now() - t0, ...a) }

function say (value: unknown): void { D.stdout.writeSync(encodeLine(value)) }
const ignore = (): void => {}

async function bridgeSocket (header: unknown): Promise<DenoConn> {
  const sock = await D.connect({ hostname: '127.0.0.1', port: config.bridgePort })
  await writeAll(sock, encodeLine(header))
  return sock
}

async function writeAll (sock: DenoConn, bytes: Uint8Array): Promise<void> {
  let at = 0
  while (at < bytes.byteLength) at += await sock.write(bytes.subarray(at))
}

let nextSession = 1

async function onIncoming (incoming: QuicIncoming): Promise<void> {
  const conn = await incoming.accept()
  // An unhandled rejection of `closed` (a session timing out after its end) would end this process.
  conn.closed.catch(ignore)
  const wt = await D.upgradeWebTransport(conn)
  wt.closed.catch(ignore)
  await wt.ready
  const id = nextSession++
  let ctl: DenoConn
  try {
    ctl = await bridgeSocket({ t: 'session', token: config.token, session: id, remote: conn.remoteAddr })
  } catch {
    wt.close({ closeCode: 1, reason: 'node unreachable' })
    return
  }
  let ended = false
  const end = (reason: string): void => {
    if (ended) return
    ended = true
    try { wt.close({ closeCode: 0, reason }) } catch {}
    try { ctl.close() } catch {}
  }
  void wt.closed.then(() => { end('closed') }, () => { end('closed') })
  // Streams the browser opens. No suspended frame may keep a stream alive after its relay ends (see
  // collectSoon), so each read is handled in a callback rather than a loop over `await`.
  const inbound = wt.incomingBidirectionalStreams.getReader()
  const acceptNext = (): void => {
    inbound.read().then((r) => {
      if (r.done || r.value === undefined) return
      void relayStream(r.value, { t: 'stream', token: config.token, session: id, req: null }).catch(ignore)
      acceptNext()
    }, ignore)
  }
  acceptNext()
  // Control lines from the node: open a stream, or close the session.
  const reader = new BridgeReader()
  const buf = new Uint8Array(16 * 1024)
  while (!ended) {
    let n: number | null
    try { n = await ctl.read(buf) } catch { n = null }
    if (n === null) break
    reader.push(buf.subarray(0, n))
    for (let line = reader.nextLine() as { open?: number, close?: string } | undefined; line !== undefined; line = reader.nextLine() as typeof line) {
      if (typeof line.open === 'number') {
        const req = line.open
        wt.createBidirectionalStream()
          .then(async (s) => { await relayStream(s, { t: 'stream', token: config.token, session: id, req }) })
          .catch(() => { void writeAll(ctl, encodeLine({ failed: req })).catch(ignore) })
      } else if (typeof line.close === 'string') {
        end(line.close)
      }
    }
  }
  end('node closed the session')
}

/** Relays one WebTransport stream over its own bridge socket, frames one way and raw stream bytes the other. */
async function relayStream (stream: WtStream, header: unknown): Promise<void> {
  const writer = stream.writable.getWriter()
  const reader = stream.readable.getReader()
  stream = undefined as unknown as WtStream // only the reader and writer hold it from here (see collectSoon)
  let sock: DenoConn
  try {
    sock = await bridgeSocket(header)
  } catch {
    await writer.abort().catch(ignore)
    await reader.cancel().catch(ignore)
    return
  }
  const tag = JSON.stringify(header).replace(/"token":"[0-9a-f]+",/, '')
  trace('open', tag)
  let done = false
  const finish = (): void => { if (done) return; done = true; try { sock.close() } catch {} }
  // The node stopped reading (STOP_SENDING) or reset the stream: tell it.
  writer.closed.catch((err: unknown) => {
    const msg = String((err as Error)?.message ?? err)
    void writeAll(sock, encodeFrame(/STOP_SENDING|StopSending/i.test(msg) ? FRAME_STOP : FRAME_RESET)).catch(ignore)
  })
  const browserToNode = (async () => {
    try {
      while (true) {
        const { done: end, value } = await reader.read()
        if (value !== undefined && value.byteLength > 0) for (const f of dataFrames(value)) await writeAll(sock, f)
        if (end) { trace('browser FIN', tag); await writeAll(sock, encodeFrame(FRAME_FIN)); return }
      }
    } catch {
      await writeAll(sock, encodeFrame(FRAME_RESET)).catch(ignore)
    }
  })()
  const nodeToBrowser = (async () => {
    const frames = new BridgeReader()
    const buf = new Uint8Array(64 * 1024)
    let writeClosed = false
    while (true) {
      let n: number | null
      try { n = await sock.read(buf) } catch { n = null }
      // The node's socket ended: a stream it had finished writing is done (aborting it now would discard
      // what the close still has to deliver); one it had not is reset.
      if (n === null) { trace('node EOF', tag, writeClosed); if (!writeClosed) { await writer.abort().catch(ignore); await reader.cancel().catch(ignore) } return }
      frames.push(buf.subarray(0, n))
      for (let f = frames.nextFrame(); f !== undefined; f = frames.nextFrame()) {
        if (f.type === FRAME_DATA) await writer.write(f.payload)
        else if (f.type === FRAME_FIN) { writeClosed = true; await writer.close().catch(ignore) }
        else if (f.type === FRAME_STOP) await reader.cancel().catch(ignore)
        else if (f.type === FRAME_RESET) { await writer.abort().catch(ignore); await reader.cancel().catch(ignore); finish(); return }
      }
    }
  })().catch(async () => { await writer.abort().catch(ignore); await reader.cancel().catch(ignore) })
  await Promise.allSettled([browserToNode, nodeToBrowser])
  trace('done', tag)
  finish()
  collectSoon()
}

/**
 * Deno 2.9's WebTransport streams send no FIN on close() and no RESET on abort(); a stream's QUIC resources
 * are released, and its FIN sent, only when its JavaScript objects are garbage-collected (denoland/deno#36822;
 * until then a session also runs out of its 100 concurrent streams). So every relayed stream drops all its
 * references when both directions are done, and a full GC runs soon after: at most one per GC_INTERVAL_MS.
 * The sidecar's heap is a few MB, so a GC costs about a millisecond.
 */
const GC_DELAY_MS = 2
const GC_INTERVAL_MS = 10
let gcTimer: ReturnType<typeof setTimeout> | undefined
let lastGc = 0
const gc = (globalThis as { gc?: () => void }).gc
function collectSoon (): void {
  if (gc === undefined || gcTimer !== undefined) return
  const wait = Math.max(GC_DELAY_MS, lastGc + GC_INTERVAL_MS - Date.now())
  gcTimer = setTimeout(() => { gcTimer = undefined; lastGc = Date.now(); gc() }, wait)
}

async function serve (listener: QuicListener): Promise<void> {
  for await (const incoming of listener) void onIncoming(incoming).catch(ignore)
}

async function main (): Promise<void> {
  const endpoint = new D.QuicEndpoint({ hostname: config.hostname, port: config.port })
  let listener = endpoint.listen({ cert: config.cert, key: config.key, alpnProtocols: ['h3'] })
  void serve(listener).catch((err: unknown) => { say({ error: String(err) }) })
  say({ listening: endpoint.addr })
  // Certificate rotation: a new listener on the same endpoint serves the new certificate to new sessions.
  const lines = new BridgeReader()
  const stdin = D.stdin.readable.getReader()
  while (true) {
    const { done, value } = await stdin.read()
    if (done || value === undefined) return D.exit(0) // the node went away
    lines.push(value)
    for (let line = lines.nextLine() as { cert?: string, key?: string } | undefined; line !== undefined; line = lines.nextLine() as typeof line) {
      if (typeof line.cert !== 'string' || typeof line.key !== 'string') continue
      try {
        // Deno 2.9 serves a second listener on an endpoint only once the first is stopped (listening first
        // and then stopping the old one leaves neither answering); sessions already open go on.
        listener.stop()
        listener = endpoint.listen({ cert: line.cert, key: line.key, alpnProtocols: ['h3'] })
        void serve(listener).catch((err: unknown) => { say({ error: String(err) }) })
        say({ rotated: true })
      } catch (err) {
        say({ error: `rotation: ${String(err)}` })
      }
    }
  }
}

main().catch((err: unknown) => { say({ error: String(err) }); D.exit(1) })
