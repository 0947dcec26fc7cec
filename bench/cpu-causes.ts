/**
 * CPU time by cause, from V8 CPU profiles (`node --cpu-prof`). Each sample is charged to a cause by the
 * innermost frame of its stack whose script matches a rule below, so native work (a signature check in
 * node:crypto, a SQLite write) is charged to the code that called it. Samples with no matching frame go
 * to "other"; V8's own (idle), (program) and (garbage collector) samples are kept apart.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string }, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** First matching rule wins, tested from the innermost frame outwards. */
const RULES: Array<[cause: string, test: (url: string, fn: string) => boolean]> = [
  ['signatures (Ed25519 sign / verify)', (u) => u.includes('/src/crypto/')],
  ['storage (SQLite)', (u) => u.includes('/src/storage/')],
  ['chain rules and encoding (src/protocol)', (u) => u.includes('/src/protocol/')],
  ['gossipsub (mesh, scoring, message cache)', (u) => u.includes('/@libp2p/gossipsub/')],
  ['protobuf (RPC encode / decode)', (u) => u.includes('protons-runtime') || u.includes('/protobufjs/') || u.includes('/uint8arrays/')],
  ['encryption (noise)', (u) => u.includes('libp2p-noise') || u.includes('@noble/ciphers') || u.includes('@noble/hashes') || u.includes('@noble/curves') || u.includes('@chainsafe/as-chacha20poly1305') || u.includes('as-sha256')],
  ['muxing and streams (yamux, it-*)', (u) => u.includes('libp2p-yamux') || u.includes('/yamux/') || u.includes('/it-') || u.includes('uint8arraylist') || u.includes('/p-queue/') || u.includes('race-signal') || u.includes('/@libp2p/utils/')],
  ['transports (tcp, websockets, webrtc)', (u) => u.includes('@libp2p/tcp') || u.includes('@libp2p/websockets') || u.includes('@libp2p/webrtc') || u.includes('node-datachannel') || u.includes('/ws/')],
  ['libp2p core (connections, identify, peer store)', (u) => u.includes('/libp2p/') || u.includes('/@libp2p/')],
  ['peer runtime (src/peer, src/node)', (u) => u.includes('/src/peer/') || u.includes('/src/node/')]
]
/** Node.js's own code: charged to it only when no frame outside it matches a rule. */
const NODE_RUNTIME = 'Node.js runtime (timers, streams, net), no library frame'

const V8_SPECIAL: Record<string, string> = {
  '(garbage collector)': 'garbage collection',
  '(program)': 'V8 / native, unattributed',
  '(idle)': 'idle'
}

/** Milliseconds of CPU per cause in one profile. */
export function causesOf (p: CpuProfile): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const causeOfNode = new Map<number, string>()
  const causeOf = (id: number): string => {
    const known = causeOfNode.get(id)
    if (known !== undefined) return known
    const leaf = byId.get(id)!
    let cause = Object.hasOwn(V8_SPECIAL, leaf.callFrame.functionName) ? V8_SPECIAL[leaf.callFrame.functionName] : undefined
    let inNode = false
    for (let cur: number | undefined = id; cause === undefined && cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame
      if (f.url.startsWith('node:')) inNode = true
      if (f.url === '' || f.url.startsWith('node:')) continue
      cause = RULES.find(([, test]) => test(f.url, f.functionName))?.[0]
    }
    cause ??= inNode ? NODE_RUNTIME : 'other'
    causeOfNode.set(id, cause)
    return cause
  }
  const out = new Map<string, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const c = causeOf(p.samples[i]!)
    out.set(c, (out.get(c) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
  }
  return out
}

/** Sum of `causesOf` over every .cpuprofile in `dir`, idle excluded, in ms. */
export async function causesInDir (dir: string): Promise<Map<string, number>> {
  const total = new Map<string, number>()
  for (const f of (await readdir(dir)).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(await readFile(join(dir, f), 'utf8')) as CpuProfile
    for (const [c, ms] of causesOf(p)) if (c !== 'idle') total.set(c, (total.get(c) ?? 0) + ms)
  }
  return total
}
