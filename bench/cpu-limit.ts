/**
 * A whole Chromium (browser, renderer, worker threads, GPU and utility processes) under one CPU quota, with
 * the cgroup v1 cpu controller: CDP's CPU throttling slows a page's main thread but not its workers, where the
 * peer runs. Needs root and /sys/fs/cgroup/cpu (cgroup v1); `launchLimitedBrowser` says why when it cannot.
 *
 * The browser is started with `launchServer`; its process and every descendant are moved into a fresh group
 * (`cpu.cfs_period_us` 100000, `cpu.cfs_quota_us` = share x 100000) before any page exists, so the renderers
 * that the zygote forks later inherit the group. `close` ends the browser and removes the group.
 */
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright'
import type { Browser } from 'playwright'
import { LAUNCH_ARGS } from './browser-helpers.ts'

const CPU_ROOT = '/sys/fs/cgroup/cpu'

async function descendants (root: number): Promise<number[]> {
  const parent = new Map<number, number>()
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '')
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (Number.isFinite(ppid)) parent.set(Number(name), ppid)
  }
  const out = [root]
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i] && !out.includes(pid)) out.push(pid)
  return out
}

export interface LimitedBrowser { browser: Browser, how: string, close: () => Promise<void> }

/** Chromium limited to `share` of one core (0.25: a quarter), or the reason it cannot be here. */
export async function launchLimitedBrowser (executablePath: string, share: number): Promise<LimitedBrowser | { unavailable: string }> {
  if (process.getuid?.() !== 0) return { unavailable: 'needs root to create a cgroup' }
  try { await readFile(join(CPU_ROOT, 'cpu.cfs_quota_us')) } catch { return { unavailable: `no cgroup v1 cpu controller at ${CPU_ROOT}` } }
  const group = join(CPU_ROOT, `lightpulse-bench-${process.pid}`)
  await mkdir(group, { recursive: true })
  const period = 100_000
  await writeFile(join(group, 'cpu.cfs_period_us'), String(period))
  await writeFile(join(group, 'cpu.cfs_quota_us'), String(Math.round(share * period)))
  const server = await chromium.launchServer({ executablePath, args: LAUNCH_ARGS, headless: true })
  const pid = server.process().pid
  if (pid === undefined) { await server.close(); await rmdir(group).catch(() => {}); return { unavailable: 'the browser process has no pid' } }
  const moved = await descendants(pid)
  for (const p of moved) await writeFile(join(group, 'cgroup.procs'), String(p)).catch(() => {})
  const browser = await chromium.connect(server.wsEndpoint())
  return {
    browser,
    how: `cgroup v1 cpu quota ${Math.round(share * period)}/${period} us (${share} of one core) on the whole Chromium (${moved.length} processes at launch; later ones inherit it)`,
    close: async () => {
      await browser.close().catch(() => {})
      await server.close().catch(() => {})
      // The group can go once its last process has exited (bounded: 5 s).
      for (let i = 0; i < 50; i++) {
        const left = (await readFile(join(group, 'cgroup.procs'), 'utf8').catch(() => '')).trim()
        if (left === '') break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      await rmdir(group).catch(() => {})
    }
  }
}
