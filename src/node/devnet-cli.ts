/** `lightpulse devnet`: run a local network, headless (--until-height) or until Ctrl-C. */
import { WEBTRANSPORT_OFF_NO_DENO } from './node.ts'
import { parseArgs } from 'node:util'
import { Devnet } from './devnet.ts'
import { ensureUiBuilt, serveUi } from './web.ts'
import { whenOrphaned } from './paths.ts'
import { networkToFile } from '../peer/network-file.ts'
import type { DevnetSummary } from './devnet.ts'

export async function runDevnetCli (args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      validators: { type: 'string' },
      bootstraps: { type: 'string' },
      'release-signers': { type: 'string' },
      threshold: { type: 'string' },
      'until-height': { type: 'string' },
      json: { type: 'boolean' },
      offline: { type: 'string' },
      stagger: { type: 'boolean' },
      'validators-per-process': { type: 'string' },
      'process-per-node': { type: 'boolean' },
      'hold-release': { type: 'string' },
      'stall-seconds': { type: 'string' },
      data: { type: 'string' },
      seed: { type: 'string' },
      port: { type: 'string' },
      'no-web': { type: 'boolean' },
      verbose: { type: 'boolean' }
    },
    strict: true
  })
  const int = (name: string, v: string | undefined, def: number, min: number, max: number): number => {
    if (v === undefined) return def
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max) {
      process.stderr.write(`lightpulse devnet: --${name} must be an integer in ${min}..${max} (got '${v}')\n`)
      process.exit(2)
    }
    return n
  }
  const validators = int('validators', values.validators, 16, 12, 200)
  const offline = int('offline', values.offline, 0, 0, validators)
  if (validators - offline < 12) {
    process.stderr.write(`lightpulse devnet: with ${offline} of ${validators} validators offline fewer than 12 run; a quorum of 11 plus a producer cannot form\n`)
    process.exit(2)
  }
  const untilHeight = values['until-height'] !== undefined ? int('until-height', values['until-height'], 0, 1, 1_000_000) : undefined
  const headless = untilHeight !== undefined
  const json = values.json === true
  const say = (line: string): void => { if (!json || values.verbose === true) process.stderr.write(line + '\n') }
  const devnet = new Devnet({
    validators,
    bootstraps: int('bootstraps', values.bootstraps, 2, 1, 16),
    releaseSigners: int('release-signers', values['release-signers'], 5, 1, 64),
    threshold: int('threshold', values.threshold, 3, 1, 64),
    offline,
    stagger: values.stagger === true,
    validatorsPerProcess: values['process-per-node'] === true ? 1 : int('validators-per-process', values['validators-per-process'], 8, 1, 200),
    holdReleaseMs: values['hold-release'] !== undefined ? int('hold-release', values['hold-release'], 0, 0, 600_000) : undefined,
    dataDir: values.data,
    seed: values.seed,
    log: values.verbose === true ? say : (line) => { if (/stagger|holding|blocks before|exited|stalled|error/i.test(line)) say(line) }
  })
  const stallMs = int('stall-seconds', values['stall-seconds'], 30, 1, 3_600) * 1000
  let finished = false
  const finish = async (summary: DevnetSummary, code: number): Promise<void> => {
    if (finished) return
    finished = true
    await devnet.stop()
    if (json) process.stdout.write(JSON.stringify(summary) + '\n')
    else say(formatSummary(summary))
    process.exit(code)
  }
  process.on('SIGINT', () => { void finish(devnet.summary('interrupted'), 130) })
  process.on('SIGTERM', () => { void finish(devnet.summary('terminated'), 143) })
  // A parent that dies (a killed test run, a closed terminal's npm) would leave the whole network running:
  // once orphaned, stop it.
  whenOrphaned(() => { void finish(devnet.summary('orphaned: the parent process exited'), 143) })
  try {
    say(`lightpulse devnet: ${validators} validators (${offline} offline), ${devnet.opts.bootstraps} bootstraps, release quorum ${devnet.opts.threshold} of ${devnet.opts.releaseSigners}`)
    await devnet.start()
    say(`stasis lock lifted: genesis after ${devnet.summary().msToGenesis} ms; network file ${devnet.networkFile}`)
    say(`bootstraps:\n${devnet.bootstrapAddrs.concat(devnet.bootstrapWsAddrs, devnet.bootstrapWtAddrs).map((a) => `  ${a}`).join('\n')}`)
    if (devnet.bootstrapWtAddrs.length === 0) say(WEBTRANSPORT_OFF_NO_DENO)
    if (headless) {
      let shown = -1
      const progress = setInterval(() => {
        const h = devnet.finalHeight
        if (h !== shown) { shown = h; say(`height ${h} / ${untilHeight}`) }
      }, 1_000)
      await devnet.runUntil(untilHeight, stallMs).finally(() => { clearInterval(progress) })
      await finish(devnet.summary(), 0)
      return
    }
    // Interactive: serve the browser peer's page, keep running and report each block.
    if (values['no-web'] !== true) {
      await ensureUiBuilt(say)
      const web = await serveUi({
        port: int('port', values.port, 5173, 0, 65_535),
        config: () => ({ network: networkToFile(devnet.network), bootstraps: devnet.browserBootstrapAddrs, local: true })
      })
      say(`\n  browser peer: ${web.url}\n  (open it in a browser: the page runs a complete peer in a Web Worker, one per browser profile however many tabs are open)\n`)
    }
    let last = -1
    setInterval(() => {
      const h = devnet.finalHeight
      if (h === last) return
      last = h
      const rec = devnet.blocks.get(h)
      say(`block ${h} round ${rec?.round ?? '?'} signers ${rec?.signerKeys.length ?? '?'} hash ${[...(rec?.hashes ?? [])][0]?.slice(0, 16) ?? '?'}`)
    }, 500)
    say('running; press Ctrl-C to stop')
  } catch (err) {
    await finish(devnet.summary((err as Error).message), 1)
  }
}

export function formatSummary (s: DevnetSummary): string {
  return [
    s.ok ? `devnet reached height ${s.height}` : `devnet failed: ${s.error ?? 'unknown'} (height ${s.height})`,
    `  blocks ${s.blocks}, rounds ${JSON.stringify(s.rounds)}, quorum mismatches ${s.quorumMismatches}, forks ${s.forks}`,
    `  rejected ${JSON.stringify(s.rejected)}`,
    `  genesis after ${s.msToGenesis} ms; block interval p50 ${s.blockIntervalMs.p50} ms p99 ${s.blockIntervalMs.p99} ms; round latency p50 ${s.roundLatencyMs.p50} ms`
  ].join('\n')
}
