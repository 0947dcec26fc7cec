/**
 * Where the package's files are, the same from a source checkout (src/node/*.ts, run with type
 * stripping) and from an installed package (dist/lib/node/*.js).
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** A module next to the calling one, with the caller's own extension (.ts in a checkout, .js when built). */
export function siblingModule (callerUrl: string, name: string): string {
  const ext = callerUrl.endsWith('.ts') ? '.ts' : '.js'
  return fileURLToPath(new URL(`./${name}${ext}`, callerUrl))
}

/** Calls `fn` once, within a second, when this process's parent has exited (we were re-parented). */
export function whenOrphaned (fn: () => void): void {
  const parent = process.ppid
  const timer = setInterval(() => { if (process.ppid !== parent) { clearInterval(timer); fn() } }, 1_000)
  timer.unref()
}

function findRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir
    dir = dirname(dir)
  }
  throw new Error('lightpulse: cannot find the package root (no package.json above src/node)')
}

/** The package root: the repository in a checkout, node_modules/lightpulse when installed. */
export const PACKAGE_ROOT = findRoot()
/** The browser peer's page (Vite build). */
export const APP_DIR = join(PACKAGE_ROOT, 'dist', 'app')
/** True in a source checkout (the page can be rebuilt from src/); false in an installed package. */
export const HAS_SOURCES = existsSync(join(PACKAGE_ROOT, 'src', 'ui', 'main.ts')) && existsSync(join(PACKAGE_ROOT, 'vite.config.ts'))
