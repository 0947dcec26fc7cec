/**
 * A dApp project outside the repository that installs lightpulse from its packed tarball, as a user would:
 * `npm pack` (which runs the package build), `npm install <tarball>` into a fresh temp folder, then two
 * minimal pages built by the consumer's own bundlers (Vite, and esbuild with the embedder's own Worker), a
 * TypeScript check of the published types, and a Node script on `lightpulse/protocol`.
 * Used by test/browser/consumer.spec.ts and the package benchmarks (bench/package.ts).
 */
import { spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(REPO, 'node_modules', '.bin')

export interface Run { code: number | null, stdout: string, stderr: string }

/** Runs a command (bounded by `timeoutMs`), with the repository's node_modules/.bin first on PATH. */
export async function run (cmd: string, args: string[], opts: { cwd: string, timeoutMs?: number, env?: Record<string, string> }): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ''}`, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')} took longer than ${opts.timeoutMs ?? 300_000} ms\n${stderr.slice(-2000)}`)) }, opts.timeoutMs ?? 300_000)
    p.on('error', (err) => { clearTimeout(timer); reject(err) })
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

async function must (cmd: string, args: string[], opts: { cwd: string, timeoutMs?: number }): Promise<Run> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.code)} in ${opts.cwd}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`)
  return r
}

export interface Packed { tarball: string, size: number, unpackedSize: number, files: string[] }

/** `npm pack` of the repository (its prepack script builds dist/) into `dir`. */
export async function packTarball (dir: string): Promise<Packed> {
  const r = await must('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO, timeoutMs: 300_000 })
  const json = r.stdout.slice(r.stdout.indexOf('['))
  const info = (JSON.parse(json) as Array<{ filename: string, size: number, unpackedSize: number, files: Array<{ path: string }> }>)[0]!
  return { tarball: join(dir, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.files.map((f) => f.path) }
}

const VITE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>consumer (vite)</title><link rel="icon" href="data:,"></head>
<body><p>A dApp page built with Vite from the installed lightpulse package.</p><script type="module" src="./main.js"></script></body></html>
`

const ESBUILD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>consumer (esbuild)</title><link rel="icon" href="data:,"></head>
<body><p>A dApp page built with esbuild from the installed lightpulse package.</p><script type="module" src="./main.js"></script></body></html>
`

/** The dApp's page script; `worker` is the expression for ClientOptions.worker, or undefined for the default. */
const mainJs = (worker: string | undefined): string => `import { createLightpulseClient, LightpulseError } from 'lightpulse'
import { HEADER_VERSION, decodeBlock, createWebCryptoVerifier, isWebCryptoEd25519Available } from 'lightpulse/protocol'

const client = createLightpulseClient(${worker !== undefined ? `{ worker: ${worker} }` : ''})
const events = []
const state = { client, events, started: false, error: undefined, isLightpulseError: undefined }
window.consumer = state
// lightpulse/protocol in the browser, without Node built-ins: decoding is coded, WebCrypto verifies.
// A header of the current version cut off after 10 bytes.
try { decodeBlock(new Uint8Array([HEADER_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0])) } catch (err) { state.protocolDecode = err.code }
state.protocolVerifier = (await isWebCryptoEd25519Available()) && typeof createWebCryptoVerifier().verify === 'function'
await client.on((e) => { if (e.type !== 'round') events.push(e.type === 'error' ? e.type + ':' + e.code : e.type) })
const config = await (await fetch('./config.json')).json()
config.storeName = new URLSearchParams(location.search).get('store') ?? 'consumer'
try {
  await client.start(config)
  state.started = true
} catch (err) {
  state.error = err.code + ': ' + err.message
  state.isLightpulseError = err instanceof LightpulseError
}
// A coded error across the worker boundary: start with an empty bootstrap list on a second client is
// refused with CONFIG_INVALID (the first client's peer keeps running).
const probe = createLightpulseClient(${worker !== undefined ? `{ worker: ${worker}, rtc: false }` : '{ rtc: false }'})
try {
  await probe.start({ ...config, bootstraps: [], storeName: config.storeName + '-probe' })
  state.probe = 'started'
} catch (err) {
  state.probe = (err instanceof LightpulseError ? 'LightpulseError ' : 'other ') + err.code
}
probe.terminate()
`

const TYPES_TS = `import { createLightpulseClient, LightpulseError } from 'lightpulse'
import type { ClientConfig, ClientEvent, LightpulseErrorCode, StatusSnapshot, SubmittedTx, TxEvent, TxInclusion } from 'lightpulse'
import { LightpulseStatusElement, defineLightpulseStatus, widgetView } from 'lightpulse/widget'
import { decodeBlock, processGenesis, createWebCryptoVerifier } from 'lightpulse/protocol'
import type { Block, ChainState } from 'lightpulse/protocol'
import { startNode, Devnet } from 'lightpulse/node'
import type { NodeOptions } from 'lightpulse/node'

export async function use (config: ClientConfig): Promise<number | undefined> {
  const client = createLightpulseClient({ rtc: false })
  await client.on((e: ClientEvent) => { if (e.type === 'log') console.log(e.level, e.message) })
  const s: StatusSnapshot = await client.start(config)
  const code: LightpulseErrorCode = 'WORKER_CRASHED'
  // @ts-expect-error: not a lightpulse error code
  const wrong: LightpulseErrorCode = 'NOT_A_CODE'
  const err = new LightpulseError(code, 'x')
  const b: Block = decodeBlock(new Uint8Array(0))
  const st: ChainState = await processGenesis({} as never, b, createWebCryptoVerifier())
  const opts: Partial<NodeOptions> = {}
  const sub: SubmittedTx = await client.submit('board', 'hello', { expiresIn: 10 })
  const inc: TxInclusion = await client.waitForInclusion(sub.txHash, { timeout: 1000 })
  for await (const t of client.transactions('board')) { const e: TxEvent = t; void e.payload.byteLength; break }
  for await (const b of client.blocks()) { void b.height; break }
  const el: LightpulseStatusElement = new (defineLightpulseStatus())()
  el.client = client
  // @ts-expect-error: submit takes a tag first
  void client.submit(new Uint8Array(1))
  void [wrong, err, st, opts, startNode, Devnet, inc.data?.tag, widgetView(s, 0).state]
  return s.head?.height
}
`

const TSCONFIG = (typeRoots: string): string => JSON.stringify({
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
    lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: ['node'], typeRoots: [typeRoots], skipLibCheck: true
  },
  files: ['types.ts']
}, null, 2)

/** Decodes and verifies `chain.json` (genesis + blocks, hex) with lightpulse/protocol, and a tampered copy. */
const VERIFY_MJS = `import { readFileSync } from 'node:fs'
import { decodeBlock, processGenesis, processBlocks, fromHex, createWebCryptoVerifier } from 'lightpulse/protocol'

const c = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const config = { ...c.network, releaseSigners: c.network.releaseSigners.map(fromHex), genesisValidators: c.network.genesisValidators.map(fromHex) }
const verifier = createWebCryptoVerifier()
const state = await processGenesis(config, decodeBlock(fromHex(c.genesis)), verifier)
const { states } = await processBlocks(state, c.blocks.map((h) => decodeBlock(fromHex(h))), { verifier })
const tip = states.at(-1).tip
const verdict = async (bytes) => {
  try { await processBlocks(state, [decodeBlock(bytes)], { verifier }); return 'accepted' } catch (err) { return err.code ?? String(err) }
}
// header(230) ‖ u16 txCount(0) ‖ u8 sigCount ‖ u8 index ‖ signature(64): byte 240 is inside the first signature
const flipped = fromHex(c.blocks[0])
flipped[240] ^= 1
const tampered = await verdict(flipped)
const truncated = await verdict(fromHex(c.blocks[0]).slice(0, -1))
console.log(JSON.stringify({ height: tip.header.height, hash: Buffer.from(tip.hash).toString('hex'), tampered, truncated }))
`

const ESBUILD_WORKER_JS = `import 'lightpulse/worker'
`

export interface ConsumerProject {
  dir: string
  /** Vite build output (index.html, assets/). */
  viteOut: string
  /** esbuild build output (index.html, main.js, worker.js). */
  esbuildOut: string
  /** The example dApp (examples/message-board) built with Vite against the installed package. */
  boardOut: string
  remove: () => Promise<void>
}

/** Installs the tarball into a fresh project in the OS temp folder and builds both pages. */
export async function createConsumerProject (tarball: string, log: (l: string) => void = () => {}): Promise<ConsumerProject> {
  const dir = await mkdtemp(join(tmpdir(), 'lightpulse-consumer-'))
  try {
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'lightpulse-consumer', private: true, type: 'module', dependencies: { lightpulse: `file:${tarball}` } }, null, 2))
    log(`consumer: npm install ${tarball} in ${dir}`)
    await must('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, timeoutMs: 600_000 })

    // Vite: the default worker, found by Vite from the package's `new Worker(new URL('./peer.worker.js', import.meta.url))`.
    const viteSrc = join(dir, 'vite-app')
    const viteOut = join(viteSrc, 'dist')
    await mkdir(viteSrc)
    await writeFile(join(viteSrc, 'index.html'), VITE_HTML)
    await writeFile(join(viteSrc, 'main.js'), mainJs(undefined))
    log('consumer: vite build')
    const { build } = await import('vite')
    await build({ root: viteSrc, configFile: false, logLevel: 'warn', base: './', build: { outDir: viteOut, emptyOutDir: true, target: 'es2022', reportCompressedSize: false, chunkSizeWarningLimit: 4096 }, worker: { format: 'es' } })

    // esbuild: the embedder's own Worker, bundled from `lightpulse/worker` as a second entry point.
    const esSrc = join(dir, 'esbuild-app')
    const esbuildOut = join(esSrc, 'dist')
    await mkdir(esSrc)
    await writeFile(join(esSrc, 'main.js'), mainJs("new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })"))
    await writeFile(join(esSrc, 'worker.js'), ESBUILD_WORKER_JS)
    log('consumer: esbuild')
    const esbuild = await import('esbuild')
    await esbuild.build({ absWorkingDir: esSrc, entryPoints: ['main.js', 'worker.js'], bundle: true, format: 'esm', splitting: false, outdir: esbuildOut, target: 'es2022', minify: true, logLevel: 'error' })
    await writeFile(join(esbuildOut, 'index.html'), ESBUILD_HTML)

    // The example dApp, as its README builds it: its own files and Vite config, the installed package.
    const boardSrc = join(dir, 'message-board')
    const boardOut = join(boardSrc, 'dist')
    await cp(join(REPO, 'examples', 'message-board'), boardSrc, { recursive: true, filter: (f) => !/node_modules|[/\\]dist/.test(f) })
    log('consumer: vite build of examples/message-board')
    await build({ root: boardSrc, configFile: join(boardSrc, 'vite.config.js'), logLevel: 'warn', base: './', build: { outDir: boardOut, emptyOutDir: true, reportCompressedSize: false, chunkSizeWarningLimit: 4096 } })

    await writeFile(join(dir, 'types.ts'), TYPES_TS)
    await writeFile(join(dir, 'tsconfig.json'), TSCONFIG(join(REPO, 'node_modules', '@types')))
    await writeFile(join(dir, 'verify.mjs'), VERIFY_MJS)
    return { dir, viteOut, esbuildOut, boardOut, remove: async () => { await rm(dir, { recursive: true, force: true }) } }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

/** The worker file in a Vite build's assets (the consumer's own copy of the package's worker). */
export async function viteWorkerFile (viteOut: string): Promise<string> {
  const f = (await readdir(join(viteOut, 'assets'))).find((n) => /^peer\.worker-.*\.js$/.test(n))
  if (f === undefined) throw new Error(`no peer.worker-*.js in ${viteOut}/assets: Vite did not pick up the package's worker`)
  return join(viteOut, 'assets', f)
}
