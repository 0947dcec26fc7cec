/**
 * A partition that heals. 16 validators and 2 bootstraps run in this process, each started by startNode
 * exactly as `lightpulse host` starts them (real libp2p on 127.0.0.1, SQLite stores). Once the chain runs,
 * the connection gater splits them into a half of 9 validators and one of 7, each with a bootstrap: every node adds
 * the other half's peer ids to its blocklist (the gater then refuses dials and inbound connections) and
 * closes its connections to them. A half makes a block in a round whose producer and at least 7 of the 11
 * quorum members are on its side: the 9 do in about one round in five, the 7 only when all 7 are drawn
 * into the quorum (about 3 % of rounds), so half A grows a fork and half B now and then one of its own. Healing only removes those blocklist
 * entries: bootstrap A's own dialer reaches bootstrap B again, and sync and fork choice must do the rest.
 * Every node must end on one chain, and the merged network must go on making blocks.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256, toHex, utf8 } from '../../src/protocol/index.ts'
import type { NetworkConfig } from '../../src/protocol/index.ts'
import { createNodeSigner } from '../../src/crypto/node.ts'
import { defaultListen, startNode } from '../../src/node/node.ts'
import type { RunningNode } from '../../src/node/node.ts'
import { waitUntil } from '../helpers/wait.ts'

const VALIDATORS = 16
/** Validators in half A (the rest are half B). With 8 and 8, in one fresh run neither half made a block in 90 s. */
const SPLIT = 9
/** The devnet's mesh for a loopback network on a shared machine (LOCAL_MESH_ARGS in src/node/devnet.ts). */
const LOCAL_MESH = { D: 4, Dlo: 3, Dhi: 6, heartbeatMs: 1_000 }
const seed = (label: string, i: number): Uint8Array => sha256(utf8(`lightpulse-test/partition/${label}/${i}`))
const idOf = (n: RunningNode): string => n.peer.libp2p.peerId.toString()
const tipOf = (n: RunningNode): string => n.peer.chain.state === undefined ? '' : toHex(n.peer.chain.state.tip.hash)

/** Bounded poll of `cond` (every 100 ms), for conditions that follow from many nodes' events at once. */
const until = async (what: string, cond: () => boolean, timeoutMs: number): Promise<void> => { await waitUntil(what, cond, timeoutMs, 100) }

test('a partition into halves of 9 and 7 validators heals: every node ends on one chain, and blocks go on', { timeout: 600_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lightpulse-partition-'))
  const validatorSeeds = Array.from({ length: VALIDATORS }, (_, i) => seed('validator', i))
  const release = createNodeSigner(seed('release', 0))
  const network: NetworkConfig = {
    name: 'partition-test',
    preset: 'devnet',
    releaseSigners: [release.publicKey],
    releaseThreshold: 1,
    genesisValidators: validatorSeeds.map((s) => createNodeSigner(s).publicKey)
  }
  const nodes: RunningNode[] = []
  const common = { network, mesh: LOCAL_MESH, local: true }
  try {
    const bootB = await startNode({ ...common, role: 'bootstrap', dataDir: join(dir, 'bootstrap-b'), bootstraps: [], listen: defaultListen('bootstrap') })
    const tcp = (n: RunningNode): string => n.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    // Bootstrap A is configured with B, so its dialer redials B when that connection is gone (as after the heal).
    const bootA = await startNode({ ...common, role: 'bootstrap', dataDir: join(dir, 'bootstrap-a'), bootstraps: [tcp(bootB)], listen: defaultListen('bootstrap') })
    nodes.push(bootA, bootB)
    const validators: RunningNode[] = []
    for (let i = 0; i < VALIDATORS; i++) {
      validators.push(await startNode({ ...common, role: 'validator', dataDir: join(dir, `validator-${i}`), validatorSeed: validatorSeeds[i], bootstraps: [tcp(bootA), tcp(bootB)] }))
    }
    nodes.push(...validators)
    const halfA = [bootA, ...validators.slice(0, SPLIT)]
    const halfB = [bootB, ...validators.slice(SPLIT)]

    await until('every validator subscribed to the release topic', () => validators.every((v) => v.peer.pubsub.getSubscribers(v.peer.topics.release).length > 0), 60_000)
    await validators[0]!.peer.release.publishRelease(0, release)
    await until('height 4 on every node', () => nodes.every((n) => n.peer.chain.height >= 4), 120_000)

    // Split. Each side's gater now refuses the other side; existing connections across are closed.
    for (const a of halfA) for (const b of halfB) { a.peer.blocklist.add(idOf(b)); b.peer.blocklist.add(idOf(a)) }
    await Promise.all(nodes.map(async (n) => {
      await Promise.all(n.peer.libp2p.getConnections().filter((c) => n.peer.blocklist.has(c.remotePeer.toString())).map(async (c) => { await c.close().catch(() => { c.abort(new Error('partition')) }) }))
    }))
    const splitAt = Math.max(...nodes.map((n) => n.peer.chain.height))
    const crossing = (): number => halfA.reduce((k, a) => k + a.peer.libp2p.getConnections().filter((c) => halfB.some((b) => idOf(b) === c.remotePeer.toString())).length, 0)
    assert.equal(crossing(), 0, 'no connection crosses the partition')
    const top = (half: RunningNode[]): number => Math.max(...half.map((n) => n.peer.chain.height))
    // Bounded: up to 90 s, or until both halves have grown (then each holds a fork of its own).
    await until('both halves to grow during the partition', () => top(halfA) > splitAt && top(halfB) > splitAt, 90_000).catch(() => {})
    const grewA = top(halfA) - splitAt
    const grewB = top(halfB) - splitAt
    t.diagnostic(`split at height ${splitAt}; during the partition half A grew ${grewA} blocks, half B ${grewB}; connections across: ${crossing()}`)
    assert.ok(grewA + grewB > 0, 'at least one half made blocks while split (else the partition tested nothing)')
    assert.equal(crossing(), 0, 'the partition held')

    // Heal: only the blocklist entries go. Nobody is told to dial anyone.
    for (const a of halfA) for (const b of halfB) { a.peer.blocklist.delete(idOf(b)); b.peer.blocklist.delete(idOf(a)) }
    const healedAt = Math.max(top(halfA), top(halfB))
    await until('every node on one chain, 2 blocks past the highest height of the split', () => {
      const h = nodes[0]!.peer.chain.height
      return h >= healedAt + 2 && nodes.every((n) => n.peer.chain.height === h && tipOf(n) === tipOf(nodes[0]!))
    }, 180_000)
    t.diagnostic(`healed: all ${nodes.length} nodes at height ${nodes[0]!.peer.chain.height}, tip ${tipOf(nodes[0]!).slice(0, 16)}; connections across: ${crossing()}`)
  } finally {
    await Promise.allSettled(nodes.map(async (n) => { await n.stop() }))
    // libp2p's datastore may still be flushing a peer record for a moment after stop: retry the removal.
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
  }
})
