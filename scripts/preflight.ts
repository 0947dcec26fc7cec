/**
 * First step of `npm test`: makes sure the system tools the tests need are here, before any test runs.
 * Missing Chromium (or, as root, a network tool of the namespace tests): installed with apt-get when this
 * runs as root on a machine that has it, saying so in one line; otherwise it stops within seconds with one
 * line naming the command to run.
 */
import { spawnSync } from 'node:child_process'
import { findChromium, NETWORK_TOOLS, onPath } from './system-tools.ts'

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const apt = onPath('apt-get')

function say (line: string): void { process.stdout.write(`preflight: ${line}\n`) }
function stop (line: string): never { process.stderr.write(`preflight: ${line}\n`); process.exit(1) }

function aptInstall (pkgs: string[], why: string): void {
  say(`${why}: installing Debian's ${pkgs.join(', ')} with apt-get (once; takes a minute or two)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env })
  const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env }) : update
  if (install.status !== 0) stop(`apt-get could not install ${pkgs.join(' ')} (exit ${String(install.status)}); install it by hand: apt-get install -y ${pkgs.join(' ')}`)
}

let chromium
try {
  chromium = findChromium()
} catch (err) {
  stop((err as Error).message)
}
if (chromium === undefined) {
  if (isRoot && apt !== undefined) {
    aptInstall(['chromium'], 'no Chromium for the browser tests')
    chromium = findChromium()
    if (chromium === undefined) stop('apt-get installed chromium but no chromium binary is on PATH; set CHROMIUM_PATH to it')
  } else {
    stop('no Chromium for the browser tests: run `sudo apt-get install -y chromium` (or set CHROMIUM_PATH to a Chromium binary), then `npm test` again')
  }
}
say(`Chromium: ${chromium.path} (from ${chromium.source})`)

// The namespace tests (WebRTC, lossy links) need root to make a network namespace; without root they are
// skipped, so their tools are only needed as root.
const missing = NETWORK_TOOLS.filter((t) => onPath(t.tool) === undefined)
if (missing.length > 0) {
  const pkgs = [...new Set(missing.map((t) => t.pkg))]
  if (isRoot && apt !== undefined) aptInstall(pkgs, `no ${missing.map((t) => t.tool).join(', ')} for the network-namespace tests`)
  else if (isRoot) stop(`the network-namespace tests need ${missing.map((t) => t.tool).join(', ')}: install ${pkgs.join(', ')}`)
  else say(`not root: the network-namespace tests (WebRTC) will be skipped, so ${missing.map((t) => t.tool).join(', ')} are not needed`)
}
