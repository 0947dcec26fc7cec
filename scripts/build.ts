/**
 * `npm run build`: the npm package's contents in dist/.
 *   dist/lib/    ESM JavaScript + .d.ts of src/ (tsc), the entry points in dist/lib/entry/
 *   dist/lib/client/peer.worker.js   the whole peer as one self-contained module worker (Vite), started by
 *                client.js with `new Worker(new URL('./peer.worker.js', import.meta.url), { type: 'module' })`
 *   dist/app/    the browser peer's page (Vite, vite.config.ts), served by `lightpulse devnet`
 * Every step checks its output; a missing piece fails the build.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const LIB = join(ROOT, 'dist', 'lib')
const WORKER_FILE = 'peer.worker.js'
/** The source's worker URL in src/client/client.ts, and what the package's client.js must say instead. */
const SOURCE_WORKER_URL = "new URL('../../worker/peer.worker.ts', import.meta.url)"
const PACKAGE_WORKER_URL = `new URL('./${WORKER_FILE}', import.meta.url)`

const step = (s: string): void => { process.stdout.write(`build: ${s}\n`) }

async function * files (dir: string, suffix: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(suffix)) yield join(e.parentPath, e.name)
  }
}

async function main (): Promise<void> {
  await rm(join(ROOT, 'dist'), { recursive: true, force: true })

  step('library (tsc -p tsconfig.build.json)')
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' })
  if (tsc.status !== 0) throw new Error('tsc failed')

  // tsc rewrites `.ts` specifiers in JavaScript but not in declarations: make the .d.ts files resolvable
  // by consumers that do not allow importing .ts.
  let dts = 0
  for await (const f of files(LIB, '.d.ts')) {
    const text = await readFile(f, 'utf8')
    const fixed = text.replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2')
    if (fixed !== text) { await writeFile(f, fixed); dts++ }
  }
  step(`declarations: ${dts} files with .ts specifiers rewritten to .js`)

  step(`worker (${WORKER_FILE}, every dependency inlined)`)
  await build({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    publicDir: false,
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
    build: {
      outDir: join(LIB, 'client'),
      emptyOutDir: false,
      target: 'es2022',
      minify: true,
      sourcemap: false,
      reportCompressedSize: false,
      chunkSizeWarningLimit: 2048,
      modulePreload: false,
      copyPublicDir: false,
      // An app build with the worker as its only input (library mode keeps whitespace in ES output).
      rolldownOptions: { input: join(ROOT, 'worker', 'peer.worker.ts'), output: { format: 'es', entryFileNames: WORKER_FILE, codeSplitting: false } }
    }
  })
  const worker = await readFile(join(LIB, 'client', WORKER_FILE), 'utf8')
  const bare = /(?:^|[;}\s])import\s*[^;(]*?from\s*["'](?![./])([^"']+)["']|\bimport\s*\(\s*["'](?![./])([^"']+)["']/.exec(worker)
  if (bare !== null) throw new Error(`${WORKER_FILE} still imports a bare module (${bare[1] ?? bare[2]}): it must be self-contained`)

  const clientJs = join(LIB, 'client', 'client.js')
  const client = await readFile(clientJs, 'utf8')
  if (!client.includes(SOURCE_WORKER_URL)) throw new Error(`dist/lib/client/client.js has no ${SOURCE_WORKER_URL} to point at ${WORKER_FILE}`)
  await writeFile(clientJs, client.replace(SOURCE_WORKER_URL, PACKAGE_WORKER_URL))
  step(`client.js starts ${PACKAGE_WORKER_URL}`)

  step('page (vite.config.ts -> dist/app)')
  await build({ configFile: join(ROOT, 'vite.config.ts'), root: join(ROOT, 'public'), logLevel: 'warn' })

  for (const f of ['dist/lib/entry/client.js', 'dist/lib/entry/client.d.ts', 'dist/lib/entry/protocol.js', 'dist/lib/entry/node.js', 'dist/lib/node/cli.js', `dist/lib/client/${WORKER_FILE}`, 'dist/app/index.html']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`build output missing: ${f}`)
  }
  step('done')
}

main().catch((err: unknown) => { process.stderr.write(`build failed: ${(err as Error).stack ?? String(err)}\n`); process.exitCode = 1 })
