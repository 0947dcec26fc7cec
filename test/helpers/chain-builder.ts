/**
 * Builds valid chains in-process with deterministic keys: every round runs the real round state
 * machine (commit, template, reveal, final, sign) with the protocol's own functions, minus the network.
 * Used by unit tests, the agreement simulation and the benchmarks.
 */
import {
  QUORUM_SIZE, ZERO32, addRoundMessage, applyBlockToRegistry, assembleBlock, blockSigningMessage, buildFinal, buildTemplate, computeBlockHash,
  computeCertRoot, computeCommitment, computeNetworkId, computeNextQuorum, computeNextRound0Start, computeRandomValue, computeRegistryRoot, computeTxRoot,
  createGenesisBlock, createRoundState, encodeBlock, processBlock, processGenesis,
  applyBlockToSenders, dataSigningMessage, quorumSigningMessage, registerSigningMessage, roundMessageSigningMessage, selectCertificate, sha256, toHex, utf8, concat
} from '../../src/protocol/index.ts'
import type {
  Block, CertEntry, ChainState, DataTx, NetworkConfig, RegisterTx, RoundMessage, Transaction, ReleaseMessage, ResumeMessage
} from '../../src/protocol/index.ts'
import type { Signer, Ed25519Verifier } from '../../src/crypto/types.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { testSigners } from './keys.ts'

export interface TestNetwork {
  config: NetworkConfig
  networkId: Uint8Array
  validators: Signer[]
  releaseSigners: Signer[]
  byKey: Map<string, Signer>
  verifier: Ed25519Verifier
}

export function createTestNetwork (opts: { validators?: number, releaseSigners?: number, threshold?: number, preset?: 'devnet' | 'mainnet', label?: string } = {}): TestNetwork {
  const label = opts.label ?? 'net'
  const validators = testSigners(`${label}/validator`, opts.validators ?? 16)
  const releaseSigners = testSigners(`${label}/release`, opts.releaseSigners ?? 5)
  const config: NetworkConfig = {
    name: `test-${label}`,
    preset: opts.preset ?? 'devnet',
    releaseSigners: releaseSigners.map((s) => s.publicKey),
    releaseThreshold: opts.threshold ?? 3,
    genesisValidators: validators.map((s) => s.publicKey)
  }
  const byKey = new Map(validators.map((s) => [toHex(s.publicKey), s]))
  return { config, networkId: computeNetworkId(config), validators, releaseSigners, byKey, verifier: createNodeVerifier() }
}

export async function signRelease (net: TestNetwork, signer: number, timestamp: number): Promise<ReleaseMessage> {
  const signature = await net.releaseSigners[signer]!.sign(quorumSigningMessage(net.networkId, { kind: 'release', timestamp }))
  return { kind: 'release', signer, timestamp, signature }
}

export async function buildGenesis (net: TestNetwork, timestamp = 1_700_000_000_000): Promise<{ block: Block, state: ChainState }> {
  const msgs: ReleaseMessage[] = []
  for (let i = 0; i < net.config.releaseThreshold; i++) msgs.push(await signRelease(net, i, timestamp + i))
  const block = createGenesisBlock(net.config, selectCertificate(msgs, net.config.releaseThreshold)!)
  return { block, state: await processGenesis(net.config, block, net.verifier) }
}

/** A resume message from release signer `signer` naming the stalled tip `parentHash`. */
export async function signResume (net: TestNetwork, signer: number, parentHash: Uint8Array, timestamp: number): Promise<ResumeMessage> {
  const signature = await net.releaseSigners[signer]!.sign(quorumSigningMessage(net.networkId, { kind: 'resume', timestamp, parentHash }))
  return { kind: 'resume', signer, timestamp, parentHash, signature }
}

export type UnsignedRoundMessage = RoundMessage extends infer M ? M extends RoundMessage ? Omit<M, 'signature'> : never : never

export async function signRound (net: TestNetwork, signer: Signer, m: UnsignedRoundMessage): Promise<RoundMessage> {
  const full = { ...m, signature: new Uint8Array(64) } as RoundMessage
  full.signature = await signer.sign(roundMessageSigningMessage(net.networkId, full))
  return full
}

export async function registerTx (net: TestNetwork, signer: Signer): Promise<RegisterTx> {
  return { kind: 'register', publicKey: signer.publicKey, signature: await signer.sign(registerSigningMessage(net.networkId, signer.publicKey)) }
}

/** A data transaction signed by `signer` (PROTOCOL.md §3.13). */
export async function dataTx (net: TestNetwork, signer: Signer, fields: { seq: number, expires: number, tag?: string, payload?: Uint8Array }): Promise<DataTx> {
  const body = { sender: signer.publicKey, seq: fields.seq, expires: fields.expires, tag: fields.tag ?? 'test', payload: fields.payload ?? utf8(`payload ${fields.seq}`) }
  return { kind: 'data', ...body, signature: await signer.sign(dataSigningMessage(net.networkId, body)) }
}

export interface BuildOptions {
  round?: number
  /** Quorum positions that stay silent (do not commit). */
  absent?: number[]
  /** Quorum positions that commit but never reveal (the final message leaves them out; they still sign). */
  silent?: number[]
  /** How many of the committed validators sign (default all). */
  signers?: number
  txs?: Transaction[]
  /** Extra keys (e.g. registered later) the builder can sign with. */
  extraSigners?: Signer[]
  /**
   * Resume certificate (M resume signatures over the stalled tip): the block restarts a stalled chain.
   * Its certRoot is set and its timing is anchored at the certificate time (the latest entry timestamp).
   */
  cert?: CertEntry[]
  /** Round-0 start to build on (default: the schedule, or the certificate time with `cert`). */
  round0Start?: number
  /**
   * Skip signing commit/template/reveal messages (zero signatures). The round state machine does not
   * check them (the runtime does, with validateRoundMessage), so the block is identical; only faster.
   */
  unsignedRoundMessages?: boolean
}

/** Runs one full round on top of `state` and returns the block it makes. */
export async function buildBlock (net: TestNetwork, state: ChainState, opts: BuildOptions = {}): Promise<Block> {
  const round = opts.round ?? 0
  for (const s of opts.extraSigners ?? []) net.byKey.set(toHex(s.publicKey), s)
  const cert = opts.cert ?? []
  const round0Start = opts.round0Start ?? (cert.length > 0 ? Math.max(...cert.map((c) => c.timestamp)) : computeNextRound0Start(state))
  const rs = createRoundState(state, round, round0Start, cert)
  const sign = async (signer: Signer, m: UnsignedRoundMessage): Promise<RoundMessage> =>
    opts.unsignedRoundMessages === true ? { ...m, signature: new Uint8Array(64) } as RoundMessage : await signRound(net, signer, m)
  const signerOf = (key: Uint8Array): Signer => {
    const s = net.byKey.get(toHex(key))
    if (s === undefined) throw new Error(`no test key for ${toHex(key).slice(0, 12)}`)
    return s
  }
  const absent = new Set(opts.absent ?? [])
  const secrets: Uint8Array[] = []
  for (let p = 0; p < QUORUM_SIZE; p++) {
    secrets[p] = sha256(concat(utf8('secret'), rs.parentHash, new Uint8Array([round, p])))
    if (absent.has(p)) continue
    addRoundMessage(state, rs, await sign(signerOf(rs.quorum.validators[p]!), { kind: 'commit', parentHash: rs.parentHash, round, position: p, commitment: computeCommitment(secrets[p]!) }))
  }
  const template = await sign(signerOf(rs.quorum.producer), buildTemplate(rs, opts.txs ?? []))
  addRoundMessage(state, rs, template)
  const silent = new Set(opts.silent ?? [])
  for (let p = 0; p < QUORUM_SIZE; p++) {
    if (absent.has(p) || silent.has(p)) continue
    addRoundMessage(state, rs, await sign(signerOf(rs.quorum.validators[p]!), { kind: 'reveal', parentHash: rs.parentHash, round, position: p, secret: secrets[p]! }))
  }
  addRoundMessage(state, rs, await sign(signerOf(rs.quorum.producer), buildFinal(rs)))
  let signed = 0
  const limit = opts.signers ?? QUORUM_SIZE
  for (let p = 0; p < QUORUM_SIZE && signed < limit; p++) {
    if (absent.has(p)) continue
    const signer = signerOf(rs.quorum.validators[p]!)
    const blockSignature = await signer.sign(blockSigningMessage(net.networkId, rs.blockHash!))
    rs.blockSignatures[p] = blockSignature
    signed++
  }
  return assembleBlock(rs)
}

/** Builds `count` blocks on top of `state`, returning the encoded blocks and the final state. */
export async function buildChain (net: TestNetwork, state: ChainState, count: number, opts: (height: number) => BuildOptions = () => ({})): Promise<{ blocks: Block[], encoded: Uint8Array[], state: ChainState }> {
  const blocks: Block[] = []
  const encoded: Uint8Array[] = []
  let s = state
  for (let i = 0; i < count; i++) {
    const block = await buildBlock(net, s, opts(s.tip.header.height + 1))
    s = (await processBlock(s, block, { verifier: net.verifier })).state
    blocks.push(block)
    encoded.push(encodeBlock(block))
  }
  return { blocks, encoded, state: s }
}

/** The test key for `publicKey` (genesis validators and any extra signer passed to buildBlock so far). */
export function signerFor (net: TestNetwork, publicKey: Uint8Array): Signer {
  const s = net.byKey.get(toHex(publicKey))
  if (s === undefined) throw new Error(`no test key for ${toHex(publicKey).slice(0, 12)}`)
  return s
}

/**
 * Recomputes the header fields derived from the block body (randomValue, txRoot, registryRoot, certRoot, anchor) on
 * top of `state`, for tests that tamper with a block and want only the rule under test to fail.
 */
export function recomputeRoots (state: ChainState, block: Block): Block {
  const h = block.header
  const quorum = computeNextQuorum(state, h.round)
  const registry = applyBlockToRegistry(state.registry, state.preset, h.height, quorum, h, block.txs)
  return {
    ...block,
    header: {
      ...h,
      randomValue: computeRandomValue(block.reveals),
      txRoot: computeTxRoot(block.txs),
      registryRoot: computeRegistryRoot(registry, applyBlockToSenders(state.senders, h.height, block.txs)),
      certRoot: block.cert.length > 0 ? computeCertRoot(block.cert) : ZERO32,
      anchorHeight: block.cert.length > 0 ? h.height : state.anchor.height,
      anchorTimestamp: block.cert.length > 0 ? h.timestamp : state.anchor.timestamp
    }
  }
}

/**
 * Re-signs every signature index of `block` with the key of that quorum position, over the current header
 * hash. The quorum is the one for `quorumRound` (default: the header's round) on top of `state`.
 */
export async function resignBlock (net: TestNetwork, state: ChainState, block: Block, quorumRound = block.header.round): Promise<Block> {
  const quorum = computeNextQuorum(state, quorumRound)
  const msg = blockSigningMessage(net.networkId, computeBlockHash(block.header))
  const signatures = await Promise.all(block.signatures.map(async (s) => {
    const key = quorum.validators[s.index]
    return { index: s.index, signature: key === undefined ? s.signature : await signerFor(net, key).sign(msg) }
  }))
  return { ...block, signatures }
}
