/**
 * `lightpulse host --spec FILE`: several bootstraps or validators in one Node.js process, for the devnet.
 * Each node is started exactly as its own command would start it (same flags, same `startNode`), and its
 * events go to stdout tagged with its name: `{"node":"validator-3","ev":"block",...}`. A process costs
 * about 100 MiB before its first node (V8, libp2p's modules, the crypto), so a 16-validator devnet in a
 * few processes uses a fraction of the memory of one process per node. The price: a kill -9 takes down
 * every node of the process, so crash tests keep one process per node (`lightpulse devnet --process-per-node`).
 *
 * FILE is JSON: `[{ "name": "validator-0", "command": "validator", "args": ["--network", ...] }, ...]`.
 * It holds the validators' keys: the devnet writes it with mode 0600 next to its keys.json.
 */
import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import type { RunningNode } from './node.ts'
import { fail, forwardEvents, readyEvent, runNodeCommand, statsEvent } from './node-command.ts'
import type { Emit } from './node-command.ts'
import { whenOrphaned } from './paths.ts'

export interface HostedNodeSpec {
  name: string
  command: 'bootstrap' | 'validator' | 'release'
  args: string[]
}

/** Checks a spec file's contents: a non-empty list of named bootstrap, validator or release commands. */
export function parseHostSpec (text: string): HostedNodeSpec[] {
  let raw: unknown
  try { raw = JSON.parse(text) } catch (err) { throw new Error(`the host spec is not JSON: ${(err as Error).message}`) }
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('the host spec must be a non-empty list of nodes')
  const names = new Set<string>()
  return raw.map((e: unknown, i) => {
    const n = e as Partial<HostedNodeSpec>
    if (typeof n?.name !== 'string' || n.name === '' || names.has(n.name)) throw new Error(`host spec entry ${i}: 'name' must be a unique non-empty string`)
    if (n.command !== 'bootstrap' && n.command !== 'validator' && n.command !== 'release') throw new Error(`host spec entry ${i}: 'command' must be bootstrap, validator or release`)
    if (!Array.isArray(n.args) || !n.args.every((a) => typeof a === 'string')) throw new Error(`host spec entry ${i}: 'args' must be a list of strings`)
    names.add(n.name)
    return { name: n.name, command: n.command, args: n.args }
  })
}

export async function runHost (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { spec: { type: 'string' } }, strict: true })
  if (values.spec === undefined) fail('host: --spec FILE is required (a list of nodes to run in this process; see src/node/host.ts)')
  let specs: HostedNodeSpec[]
  try { specs = parseHostSpec(await readFile(values.spec, 'utf8')) } catch (err) { fail(`host: ${(err as Error).message}`) }
  const running: Array<{ emit: Emit, node: RunningNode }> = []
  let stopping = false
  const shutdown = (sig: string): void => {
    if (stopping) return
    stopping = true
    for (const r of running) r.emit(statsEvent(r.node))
    void Promise.allSettled(running.map(async (r) => { await r.node.stop() })).finally(() => { process.exit(sig === 'SIGINT' ? 130 : 0) })
    setTimeout(() => process.exit(1), 5_000).unref()
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
  whenOrphaned(() => { shutdown('SIGTERM') })
  process.stdout.on('error', () => { shutdown('SIGTERM') })
  process.on('SIGUSR2', () => { for (const r of running) r.emit(statsEvent(r.node)) })
  let worst = 0
  let started = 0
  const finished = (node: RunningNode, code: number): void => {
    worst = Math.max(worst, code)
    const i = running.findIndex((r) => r.node === node)
    if (i >= 0) running.splice(i, 1)
    if (running.length === 0 && started === specs.length && !stopping) process.exit(worst)
  }
  // All at once: a release signer's command returns only once it has published.
  await Promise.all(specs.map(async (spec) => {
    const emit: Emit = (obj) => { process.stdout.write(JSON.stringify({ node: spec.name, ...obj }) + '\n') }
    await runNodeCommand(spec.command, spec.args, {
      add: (node, extra) => {
        started++
        running.push({ emit, node })
        forwardEvents(node.peer, emit)
        emit(readyEvent(node, extra))
      },
      finished,
      emit
    })
  }))
}
