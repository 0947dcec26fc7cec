/**
 * The system tools the tests need, found the same way by `scripts/preflight.ts` (which installs what is
 * missing), playwright.config.ts and the browser benchmarks.
 *
 * Chromium, in this order:
 *   1. CHROMIUM_PATH (an executable; an unusable value is an error, never silently skipped)
 *   2. the browser Playwright installed (`npx playwright install chromium`, where downloads work)
 *   3. `chromium` or `chromium-browser` on PATH
 */
import { accessSync, constants, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, join } from 'node:path'

export interface Found { path: string, source: 'CHROMIUM_PATH' | 'playwright' | 'PATH' }

const executable = (p: string): boolean => {
  try { accessSync(p, constants.X_OK); return true } catch { return false }
}

/** The first executable named `name` on PATH. */
export function onPath (name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const p = join(dir, name)
    if (existsSync(p) && executable(p)) return p
  }
  // sbin is often not on a user's PATH, though `ip` lives there.
  for (const dir of ['/usr/sbin', '/sbin']) if (executable(join(dir, name))) return join(dir, name)
  return undefined
}

function playwrightChromium (): string | undefined {
  try {
    const require = createRequire(import.meta.url)
    const { chromium } = require('playwright-core') as { chromium: { executablePath: () => string } }
    const p = chromium.executablePath()
    return existsSync(p) && executable(p) ? p : undefined
  } catch {
    return undefined
  }
}

/** Throws (with what to do) if CHROMIUM_PATH is set but not an executable. */
export function findChromium (): Found | undefined {
  const env = process.env.CHROMIUM_PATH
  if (env !== undefined && env !== '') {
    if (!executable(env)) throw new Error(`CHROMIUM_PATH=${env} is not an executable file: point it at a Chromium binary, or unset it`)
    return { path: env, source: 'CHROMIUM_PATH' }
  }
  const pw = playwrightChromium()
  if (pw !== undefined) return { path: pw, source: 'playwright' }
  for (const name of ['chromium', 'chromium-browser']) {
    const p = onPath(name)
    if (p !== undefined) return { path: p, source: 'PATH' }
  }
  return undefined
}

/** The Chromium path for Playwright's launch options; a clear error if there is none. */
export function chromiumPath (): string {
  const found = findChromium()
  if (found === undefined) throw new Error('No Chromium found for the browser tests: run `npm test` (it installs one where it can), or `sudo apt-get install -y chromium`, or set CHROMIUM_PATH')
  return found.path
}

/** Network tools of the namespace tests (WebRTC, netem), with the Debian package that has each. */
export const NETWORK_TOOLS: ReadonlyArray<{ tool: string, pkg: string }> = [
  { tool: 'ip', pkg: 'iproute2' },
  { tool: 'tc', pkg: 'iproute2' },
  { tool: 'unshare', pkg: 'util-linux' }
]
