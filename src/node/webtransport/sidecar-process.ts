/**
 * Starts and stops the Deno WebTransport sidecar (./sidecar.ts) for one listener, and finds Deno: the
 * LIGHTPULSE_DENO environment variable, else the `deno` npm package (an optional peer dependency of
 * lightpulse, a dev dependency of this repository), else `deno` on PATH.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { siblingModule } from '../paths.ts'

/** How long the sidecar may take to bind its QUIC endpoint (Deno compiles the sidecar on its first run). */
const START_TIMEOUT_MS = 30_000

export class WebTransportUnavailableError extends Error {
  readonly code = 'WEBTRANSPORT_UNAVAILABLE'
}

let found: string | null | undefined

/** The Deno executable, or undefined when none is installed. */
export function findDeno (): string | undefined {
  const env = process.env.LIGHTPULSE_DENO
  if (env !== undefined) return env === '' || env === 'off' ? undefined : env
  if (found !== undefined) return found ?? undefined
  try {
    const pkg = createRequire(import.meta.url).resolve('deno/package.json')
    const bin = join(dirname(pkg), process.platform === 'win32' ? 'deno.exe' : 'deno')
    if (existsSync(bin)) { found = bin; return bin }
  } catch {}
  const onPath = spawnSync('deno', ['--version'], { stdio: 'ignore' })
  found = onPath.status === 0 ? 'deno' : null
  return found ?? undefined
}

export interface SidecarConfig { hostname: string, port: number, cert: string, key: string, bridgePort: number, token: string }

export class SidecarProcess {
  private child: ChildProcess | undefined
  private readonly deno: string | undefined
  private stopping = false
  private lineWaiters: Array<(l: Record<string, unknown>) => boolean> = []
  onExit: ((why: string) => void) | undefined

  get pid (): number | undefined { return this.child?.pid }

  constructor (deno?: string) {
    this.deno = deno ?? findDeno()
  }

  async start (config: SidecarConfig): Promise<{ hostname: string, port: number }> {
    if (this.deno === undefined) throw new WebTransportUnavailableError('WebTransport needs Deno: `npm install deno` (or set LIGHTPULSE_DENO)')
    const script = siblingModule(import.meta.url, 'sidecar')
    const child = spawn(this.deno, ['run', '--quiet', '--no-config', '--no-lock', '--no-prompt', '--unstable-net', '--v8-flags=--expose-gc', '--allow-net', '--allow-env=LIGHTPULSE_WT', script], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DENO_NO_UPDATE_CHECK: '1', ...(process.env.DENO_DIR !== undefined ? { DENO_DIR: process.env.DENO_DIR } : {}), LIGHTPULSE_WT: JSON.stringify({ ...config, trace: process.env.LP_WT_TRACE === '1' }) },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    this.child = child
    let stderr = ''
    child.stderr!.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-2000); if (process.env.LP_WT_TRACE === '1') process.stderr.write(b) })
    let buf = ''
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let v: Record<string, unknown>
        try { v = JSON.parse(line) as Record<string, unknown> } catch { continue }
        this.lineWaiters = this.lineWaiters.filter((w) => !w(v))
      }
    })
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, sig) => { resolve(`code ${String(code)} ${sig ?? ''} ${stderr.trim()}`.trim()) })
      child.once('error', (err) => { resolve(err.message) })
    })
    void exited.then((why) => { if (!this.stopping) this.onExit?.(why) })
    const bound = await Promise.race([
      this.waitLine((v) => v.listening !== undefined || v.error !== undefined),
      exited.then((why): Record<string, unknown> => ({ error: why })),
      new Promise<Record<string, unknown>>((resolve) => setTimeout(() => { resolve({ error: 'timed out' }) }, START_TIMEOUT_MS).unref())
    ])
    if (bound.error !== undefined || bound.listening === undefined) {
      await this.stop()
      throw new WebTransportUnavailableError(`the WebTransport sidecar did not start: ${String(bound.error)}`)
    }
    return bound.listening as { hostname: string, port: number }
  }

  private async waitLine (match: (v: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return await new Promise((resolve) => { this.lineWaiters.push((v) => { if (!match(v)) return false; resolve(v); return true }) })
  }

  /** New sessions get this certificate; sessions already open keep theirs. */
  async serveCertificate (cert: string, key: string): Promise<void> {
    const child = this.child
    if (child === undefined) return
    const done = this.waitLine((v) => v.rotated !== undefined || v.error !== undefined)
    child.stdin!.write(JSON.stringify({ cert, key }) + '\n')
    const v = await done
    if (v.error !== undefined) throw new Error(String(v.error))
  }

  async stop (): Promise<void> {
    this.stopping = true
    const child = this.child
    this.child = undefined
    if (child === undefined || child.exitCode !== null) return
    const gone = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
    child.stdin?.end()
    child.kill('SIGTERM')
    await Promise.race([gone, new Promise<void>((resolve) => setTimeout(resolve, 3_000).unref())])
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}
