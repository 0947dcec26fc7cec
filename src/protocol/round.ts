/**
 * One Pulse round as a pure state machine. The runtime feeds it verified messages (signatures on round
 * messages are checked with validateRoundMessage first) and asks it what the stage needs next; it owns
 * no timers. Stages: commit (hash of a fresh 32-byte secret) -> template (producer locks the bitset of
 * committed validators and the transactions) -> reveal (must match the commitment) -> final (producer
 * names the revealed set, >= 7 of the bitset, and carries those reveals) -> sign (each bitset member
 * signs the block hash) -> the producer assembles the block from >= 7 signatures.
 */
import { HEADER_VERSION, PRODUCER_POSITION, QUORUM_SIZE, SIGNATURES_REQUIRED, TAG } from './constants.ts'
import { ZERO32, equals } from './bytes.ts'
import { ProtocolError, check } from './errors.ts'
import { encodeRoundMessageBody } from './encoding.ts'
import { signingMessage, taggedHash } from './hash.ts'
import {
  applyBlockToRegistry, blockSigningMessage, computeBlockHash, computeNextAnchor, computeNextQuorum, computeRandomValue, computeTxRoot, popcount,
  validateRevealBitset
} from './chain.ts'
import type { ChainState } from './chain.ts'
import { computeRegistryRoot } from './registry.ts'
import { applyBlockToSenders, validateTxs } from './txs.ts'
import { computeRoundStart } from './timing.ts'
import type { Ed25519Verifier } from './verifier.ts'
import type { Block, BlockHeader, CertEntry, FinalMessage, Quorum, RoundMessage, TemplateMessage, Transaction } from './types.ts'
import { computeCertRoot } from './certificate.ts'

export interface RoundState {
  /** Resume certificate carried by this round's block (empty unless the chain was stalled). */
  cert: CertEntry[]
  parentHash: Uint8Array
  height: number
  round: number
  /** Start of this round (the block timestamp if it succeeds). */
  timestamp: number
  quorum: Quorum
  commits: Array<Uint8Array | undefined>
  template?: TemplateMessage
  templateBody?: Uint8Array
  /** Reveal messages seen (each checked against its commitment). */
  reveals: Array<Uint8Array | undefined>
  /** The producer's final message: the revealed set and its reveals. Checked against the template once both are here. */
  final?: FinalMessage
  finalBody?: Uint8Array
  header?: BlockHeader
  blockHash?: Uint8Array
  blockSignatures: Array<Uint8Array | undefined>
  /** Signatures that arrived before the header was final here; checked once it is. */
  pendingSignatures: Array<{ blockHash: Uint8Array, signature: Uint8Array } | undefined>
}

export function computeCommitment (secret: Uint8Array): Uint8Array {
  return taggedHash(TAG.commit, secret)
}

export function roundMessageSigningMessage (networkId: Uint8Array, m: RoundMessage): Uint8Array {
  return signingMessage(TAG.roundMsg, networkId, encodeRoundMessageBody(m))
}

/**
 * What a validator signs to bind its key to its libp2p peer id on the direct round-message protocol
 * (PROTOCOL.md §3.10): the peer id's multihash bytes, so the hello is worth nothing on another connection.
 */
export function quorumHelloSigningMessage (networkId: Uint8Array, peerIdBytes: Uint8Array): Uint8Array {
  return signingMessage(TAG.quorumHello, networkId, peerIdBytes)
}

/**
 * Who needs a round message directly (PROTOCOL.md §3.10): a member's commit, reveal and signature go to
 * the round's producer; the producer's template and final message go to the 11 members. Keys, raw.
 */
export function directRecipients (rs: RoundState, m: RoundMessage): Uint8Array[] {
  return m.position === PRODUCER_POSITION ? rs.quorum.validators : [rs.quorum.producer]
}

/**
 * A round on top of `chain`. After a stall, `cert` is the resume certificate: the block will carry it,
 * and `round0Start` must then be the certificate time.
 */
export function createRoundState (chain: ChainState, round: number, round0Start: number, cert: CertEntry[] = []): RoundState {
  return {
    cert,
    parentHash: chain.tip.hash,
    height: chain.tip.header.height + 1,
    round,
    timestamp: computeRoundStart(chain.preset.timing, round0Start, round),
    quorum: computeNextQuorum(chain, round),
    commits: new Array(QUORUM_SIZE).fill(undefined),
    reveals: new Array(QUORUM_SIZE).fill(undefined),
    blockSignatures: new Array(QUORUM_SIZE).fill(undefined),
    pendingSignatures: new Array(QUORUM_SIZE).fill(undefined)
  }
}

/** Public key expected for a message from `position` in this round (producer = 11). */
export function senderKey (rs: RoundState, position: number): Uint8Array {
  if (position === PRODUCER_POSITION) return rs.quorum.producer
  const key = rs.quorum.validators[position]
  if (key === undefined) throw new ProtocolError('NOT_IN_QUORUM', { position })
  return key
}

/** Position of `publicKey` in this round: 0..10 validator, 11 producer, -1 neither. */
export function positionOf (rs: RoundState, publicKey: Uint8Array): number {
  if (equals(rs.quorum.producer, publicKey)) return PRODUCER_POSITION
  return rs.quorum.validators.findIndex((k) => equals(k, publicKey))
}

/** Checks a round message belongs to this round, comes from the right sender, and is signed by it. */
export async function validateRoundMessage (networkId: Uint8Array, rs: RoundState, m: RoundMessage, verifier: Ed25519Verifier): Promise<void> {
  check(equals(m.parentHash, rs.parentHash) && m.round === rs.round, 'STALE', { round: m.round, expectedRound: rs.round })
  if (m.kind === 'template' || m.kind === 'final') check(m.position === PRODUCER_POSITION, 'NOT_IN_QUORUM', { kind: m.kind, position: m.position })
  else check(m.position < QUORUM_SIZE, 'NOT_IN_QUORUM', { kind: m.kind, position: m.position })
  const key = senderKey(rs, m.position)
  if (!await verifier.verify(key, roundMessageSigningMessage(networkId, m), m.signature)) {
    throw new ProtocolError('BAD_SIGNATURE', { kind: m.kind, position: m.position, round: m.round })
  }
  if (m.kind === 'signature' && !await verifier.verify(key, blockSigningMessage(networkId, m.blockHash), m.blockSignature)) {
    throw new ProtocolError('BAD_SIGNATURE', { kind: 'block-signature', position: m.position, round: m.round })
  }
}

function inBitset (bitset: number, position: number): boolean {
  return (bitset & (1 << position)) !== 0
}

export function countPresent (xs: Array<Uint8Array | undefined>): number {
  let n = 0
  for (const x of xs) if (x !== undefined) n++
  return n
}

function addOnce (slots: Array<Uint8Array | undefined>, position: number, value: Uint8Array, kind: string): void {
  const have = slots[position]
  if (have !== undefined) {
    if (equals(have, value)) throw new ProtocolError('DUPLICATE', { kind, position })
    throw new ProtocolError('EQUIVOCATION', { kind, position })
  }
  slots[position] = value
}

/** Records a validated message. Throws on duplicates, equivocation and rule failures; state is unchanged then. */
export function addRoundMessage (chain: ChainState, rs: RoundState, m: RoundMessage): void {
  switch (m.kind) {
    case 'commit':
      addOnce(rs.commits, m.position, m.commitment, 'commit')
      return
    case 'template':
      addTemplate(chain, rs, m)
      return
    case 'final':
      addFinal(chain, rs, m)
      return
    case 'reveal': {
      const commitment = rs.template !== undefined ? templateCommitment(rs, m.position) : rs.commits[m.position]
      if (commitment !== undefined) check(equals(computeCommitment(m.secret), commitment), 'REVEAL_MISMATCH', { position: m.position })
      addOnce(rs.reveals, m.position, m.secret, 'reveal')
      tryFinalizeHeader(chain, rs)
      return
    }
    case 'signature':
      if (rs.blockHash === undefined) {
        // Not final here yet: keep it (validated signature over the claimed hash) until it is.
        check(rs.pendingSignatures[m.position] === undefined, 'DUPLICATE', { kind: 'signature', position: m.position })
        rs.pendingSignatures[m.position] = { blockHash: m.blockHash, signature: m.blockSignature }
        return
      }
      check(equals(m.blockHash, rs.blockHash), 'TEMPLATE_MISMATCH', { reason: 'signature over another block', position: m.position })
      check(inBitset(rs.template!.bitset, m.position), 'SIGNER_NOT_IN_BITSET', { position: m.position })
      addOnce(rs.blockSignatures, m.position, m.blockSignature, 'signature')
  }
}

function templateCommitment (rs: RoundState, position: number): Uint8Array | undefined {
  const t = rs.template!
  if (!inBitset(t.bitset, position)) return undefined
  let idx = 0
  for (let p = 0; p < position; p++) if (inBitset(t.bitset, p)) idx++
  return t.commitments[idx]
}

function addTemplate (chain: ChainState, rs: RoundState, m: TemplateMessage): void {
  const body = encodeRoundMessageBody(m)
  if (rs.templateBody !== undefined) {
    if (equals(body, rs.templateBody)) throw new ProtocolError('DUPLICATE', { kind: 'template' })
    throw new ProtocolError('EQUIVOCATION', { kind: 'template', producer: 'second different template for the same round' })
  }
  const n = popcount(m.bitset)
  check(n >= SIGNATURES_REQUIRED, 'BITSET_INVALID', { committed: n, required: SIGNATURES_REQUIRED })
  check(m.commitments.length === n, 'BITSET_INVALID', { commitments: m.commitments.length, bitset: n })
  let idx = 0
  for (let p = 0; p < QUORUM_SIZE; p++) {
    if (!inBitset(m.bitset, p)) continue
    const mine = rs.commits[p]
    check(mine === undefined || equals(mine, m.commitments[idx]!), 'TEMPLATE_MISMATCH', { reason: 'commitment differs from the one the validator sent', position: p })
    idx++
  }
  validateTxs(chain.registry, chain.senders, rs.height, m.txs)
  rs.template = m
  rs.templateBody = body
  // Reveals that arrived before the template are checked now; a mismatch is dropped.
  for (let p = 0; p < QUORUM_SIZE; p++) {
    const secret = rs.reveals[p]
    if (secret === undefined) continue
    const c = templateCommitment(rs, p)
    if (c !== undefined && !equals(computeCommitment(secret), c)) rs.reveals[p] = undefined
  }
  // A final message that arrived before the template is checked now; one that does not fit is dropped.
  if (rs.final !== undefined) {
    try {
      validateFinalAgainstTemplate(rs, rs.final)
    } catch {
      rs.final = undefined
      rs.finalBody = undefined
    }
  }
  tryFinalizeHeader(chain, rs)
}

function addFinal (chain: ChainState, rs: RoundState, m: FinalMessage): void {
  const body = encodeRoundMessageBody(m)
  if (rs.finalBody !== undefined) {
    if (equals(body, rs.finalBody)) throw new ProtocolError('DUPLICATE', { kind: 'final' })
    throw new ProtocolError('EQUIVOCATION', { kind: 'final', producer: 'second different final message for the same round' })
  }
  const revealed = popcount(m.revealBitset)
  check(revealed >= SIGNATURES_REQUIRED, 'BITSET_INVALID', { field: 'revealBitset', revealed, required: SIGNATURES_REQUIRED })
  check(m.reveals.length === revealed, 'BITSET_INVALID', { field: 'reveals', reveals: m.reveals.length, revealBitset: m.revealBitset })
  if (rs.template !== undefined) validateFinalAgainstTemplate(rs, m)
  rs.final = m
  rs.finalBody = body
  tryFinalizeHeader(chain, rs)
}

/** The final message against the template: reveal bitset within the commit bitset, every reveal matching its commitment. */
function validateFinalAgainstTemplate (rs: RoundState, m: FinalMessage): void {
  validateRevealBitset(rs.template!.bitset, m.revealBitset)
  let idx = 0
  for (let p = 0; p < QUORUM_SIZE; p++) {
    if (!inBitset(m.revealBitset, p)) continue
    check(equals(computeCommitment(m.reveals[idx]!), templateCommitment(rs, p)!), 'REVEAL_MISMATCH', { position: p, kind: 'final' })
    idx++
  }
}

/** Bitset members whose reveal has not arrived (yet). */
export function missingReveals (rs: RoundState): number[] {
  if (rs.template === undefined) return []
  const out: number[] = []
  for (let p = 0; p < QUORUM_SIZE; p++) if (inBitset(rs.template.bitset, p) && rs.reveals[p] === undefined) out.push(p)
  return out
}

/** The header is determined once the template and a final message that fits it are both here. */
function tryFinalizeHeader (chain: ChainState, rs: RoundState): void {
  if (rs.template === undefined || rs.final === undefined || rs.header !== undefined) return
  const t = rs.template
  const f = rs.final
  const participation = { bitset: t.bitset, revealBitset: f.revealBitset }
  const registry = applyBlockToRegistry(chain.registry, chain.preset, rs.height, rs.quorum, participation, t.txs)
  const anchor = computeNextAnchor(chain, rs.height, rs.timestamp, rs.cert.length > 0)
  rs.header = {
    version: HEADER_VERSION,
    height: rs.height,
    parentHash: rs.parentHash,
    timestamp: rs.timestamp,
    round: rs.round,
    producer: rs.quorum.producer,
    bitset: t.bitset,
    revealBitset: f.revealBitset,
    randomValue: computeRandomValue(f.reveals),
    txRoot: computeTxRoot(t.txs),
    registryRoot: computeRegistryRoot(registry, applyBlockToSenders(chain.senders, rs.height, t.txs)),
    certRoot: rs.cert.length > 0 ? computeCertRoot(rs.cert) : ZERO32,
    anchorHeight: anchor.height,
    anchorTimestamp: anchor.timestamp
  }
  rs.blockHash = computeBlockHash(rs.header)
  rs.pendingSignatures.forEach((p, position) => {
    if (p !== undefined && equals(p.blockHash, rs.blockHash!) && inBitset(t.bitset, position) && rs.blockSignatures[position] === undefined) {
      rs.blockSignatures[position] = p.signature
    }
  })
}

/** The bitset the producer locks: every validator whose commitment it holds. */
export function computeBitset (rs: RoundState): number {
  let bits = 0
  rs.commits.forEach((c, p) => { if (c !== undefined) bits |= 1 << p })
  return bits
}

/** Unsigned template fields for the producer. */
export function buildTemplate (rs: RoundState, txs: Transaction[]): Omit<TemplateMessage, 'signature'> {
  const bitset = computeBitset(rs)
  check(popcount(bitset) >= SIGNATURES_REQUIRED, 'QUORUM_INSUFFICIENT', { committed: popcount(bitset), required: SIGNATURES_REQUIRED })
  const commitments = rs.commits.filter((c): c is Uint8Array => c !== undefined)
  return { kind: 'template', parentHash: rs.parentHash, round: rs.round, position: PRODUCER_POSITION, bitset, commitments, txs }
}

/**
 * Unsigned final message for the producer: every bitset member whose reveal it holds. Needs >= 7
 * (QUORUM_INSUFFICIENT otherwise: the producer waits for more, or the round fails at its end).
 */
export function buildFinal (rs: RoundState): Omit<FinalMessage, 'signature'> {
  check(rs.template !== undefined, 'QUORUM_INSUFFICIENT', { reason: 'no template' })
  let revealBitset = 0
  const reveals: Uint8Array[] = []
  for (let p = 0; p < QUORUM_SIZE; p++) {
    const secret = rs.reveals[p]
    if (inBitset(rs.template.bitset, p) && secret !== undefined) { revealBitset |= 1 << p; reveals.push(secret) }
  }
  check(reveals.length >= SIGNATURES_REQUIRED, 'QUORUM_INSUFFICIENT', { revealed: reveals.length, required: SIGNATURES_REQUIRED })
  return { kind: 'final', parentHash: rs.parentHash, round: rs.round, position: PRODUCER_POSITION, revealBitset, reveals }
}

/** The block from the signatures gathered so far (ascending positions); needs >= 7. */
export function assembleBlock (rs: RoundState): Block {
  check(rs.header !== undefined, 'QUORUM_INSUFFICIENT', { reason: 'header not final' })
  const signatures = rs.blockSignatures.flatMap((s, index) => s === undefined ? [] : [{ index, signature: s }])
  check(signatures.length >= SIGNATURES_REQUIRED, 'QUORUM_INSUFFICIENT', { signed: signatures.length, required: SIGNATURES_REQUIRED })
  return { header: rs.header, txs: rs.template!.txs, signatures, reveals: rs.final!.reveals, cert: rs.cert }
}

/** Every bitset member has signed. */
export function allSigned (rs: RoundState): boolean {
  if (rs.template === undefined) return false
  for (let p = 0; p < QUORUM_SIZE; p++) if (inBitset(rs.template.bitset, p) && rs.blockSignatures[p] === undefined) return false
  return true
}
