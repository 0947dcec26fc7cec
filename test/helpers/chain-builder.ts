/**
 * Builds valid chains in-process with deterministic keys: every round runs the real round state
 * machine (commit, template, reveal, sign) with the protocol's own functions, minus the network.
 * Used by unit tests, the agreement simulation and the benchmarks.
 */
import {
  QUORUM_SIZE, addRoundMessage, assembleBlock, blockSigningMessage, buildTemplate, computeCommitment,
  computeNetworkId, computeNextRound0Start, createGenesisBlock, createRoundState, encodeBlock, processBlock, processGenesis,
  quorumSigningMessage, registerSigningMessage, roundMessageSigningMessage, selectCertificate, sha256, toHex, utf8, concat
} from '../../src/protocol/index.ts'
import type { Block, ChainState, NetworkConfig, RoundMessage, Transaction, ReleaseMessage } from '../../src/protocol/index.ts'
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

export type UnsignedRoundMessage = RoundMessage extends infer M ? M extends RoundMessage ? Omit<M, 'signature'> : never : never

export async function signRound (net: TestNetwork, signer: Signer, m: UnsignedRoundMessage): Promise<RoundMessage> {
  const full = { ...m, signature: new Uint8Array(64) } as RoundMessage
  full.signature = await signer.sign(roundMessageSigningMessage(net.networkId, full))
  return full
}

export async function registerTx (net: TestNetwork, signer: Signer): Promise<Transaction> {
  return { kind: 'register', publicKey: signer.publicKey, signature: await signer.sign(registerSigningMessage(net.networkId, signer.publicKey)) }
}

export interface BuildOptions {
  round?: number
  /** Quorum positions that stay silent (do not commit). */
  absent?: number[]
  /** How many of the committed validators sign (default all). */
  signers?: number
  txs?: Transaction[]
  /** Extra keys (e.g. registered later) the builder can sign with. */
  extraSigners?: Signer[]
}

/** Runs one full round on top of `state` and returns the block it makes. */
export async function buildBlock (net: TestNetwork, state: ChainState, opts: BuildOptions = {}): Promise<Block> {
  const round = opts.round ?? 0
  for (const s of opts.extraSigners ?? []) net.byKey.set(toHex(s.publicKey), s)
  const rs = createRoundState(state, round, computeNextRound0Start(state))
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
    addRoundMessage(state, rs, await signRound(net, signerOf(rs.quorum.validators[p]!), { kind: 'commit', parentHash: rs.parentHash, round, position: p, commitment: computeCommitment(secrets[p]!) }))
  }
  const template = await signRound(net, signerOf(rs.quorum.producer), buildTemplate(rs, opts.txs ?? []))
  addRoundMessage(state, rs, template)
  for (let p = 0; p < QUORUM_SIZE; p++) {
    if (absent.has(p)) continue
    addRoundMessage(state, rs, await signRound(net, signerOf(rs.quorum.validators[p]!), { kind: 'reveal', parentHash: rs.parentHash, round, position: p, secret: secrets[p]! }))
  }
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
