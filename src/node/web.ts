/**
 * Serves the browser peer's page (the Vite build in dist/app/) and /config.json (the network and the
 * bootstraps' browser-dialable addresses) on 127.0.0.1. In a source checkout it builds the page first
 * when dist/app/ is missing or older than its sources; an installed package serves the page it ships.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { readFile, stat, readdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join, extname, normalize } from 'node:path'
import { APP_DIR, HAS_SOURCES, PACKAGE_ROOT } from './paths.ts'

export const DIST = APP_DIR

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.wasm': 'application/wasm', '.map': 'application/json'
}

async function newestMtime (dir: string): Promise<number> {
  let newest = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    const p = join(e.parentPath, e.name)
    if (p.includes('node_modules')) continue
    newest = Math.max(newest, (await stat(p)).mtimeMs)
  }
  return newest
}

/** Builds the page with Vite unless dist/app/ is newer than every source it is built from (checkout only). */
export async function ensureUiBuilt (log: (line: string) => void = () => {}): Promise<void> {
  const index = join(DIST, 'index.html')
  if (!HAS_SOURCES) {
    if (!existsSync(index)) throw new Error(`lightpulse: the browser page is missing from this package (${index}); reinstall the package`)
    return
  }
  if (existsSync(index)) {
    const built = (await stat(index)).mtimeMs
    const sources = Math.max(...await Promise.all(['src', 'worker', 'public'].map(async (d) => await newestMtime(join(PACKAGE_ROOT, d)))))
    if (built >= sources) return
  }
  log('building the browser peer (vite build)…')
  const { build } = await import('vite')
  await build({ configFile: join(PACKAGE_ROOT, 'vite.config.ts'), root: join(PACKAGE_ROOT, 'public'), logLevel: 'warn' })
}

export interface UiServer { url: string, server: Server, close: () => Promise<void> }

/** Serves `root` (default: the page in dist/app/) and /config.json. */
export async function serveUi (opts: { port: number, host?: string, config: () => unknown, root?: string }): Promise<UiServer> {
  const root = opts.root ?? DIST
  const server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
      if (path === '/config.json') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(JSON.stringify(opts.config()))
        return
      }
      const rel = normalize(path === '/' ? '/index.html' : path).replace(/^(\.\.[/\\])+/, '')
      const file = join(root, rel)
      if (!file.startsWith(root)) { res.writeHead(403).end(); return }
      try {
        const body = await readFile(file)
        // Vite names every asset by its content hash: cache those for good (a reload then takes the worker's
        // script, and V8's code cache for it, from the browser cache); the page itself is always revalidated.
        const caching = rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'
        res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': caching })
        res.end(body)
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      }
    })()
  })
  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, host, () => { resolve() })
  })
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port
  return {
    url: `http://${host}:${port}/`,
    server,
    close: async () => { await new Promise<void>((resolve) => { server.close(() => { resolve() }); server.closeAllConnections() }) }
  }
}
