/**
 * The stasis lock and the release quorum. A network starts locked; genesis exists only once M of the
 * configured release signers have each published a signed release message. A stalled chain (no block
 * in rounds 0..254) is restarted only by M signed resume messages naming the stalled tip.
 */
import { TAG } from './constants.ts'
import { Writer } from './bytes.ts'
import { ProtocolError, check } from './errors.ts'
import { encodeCert } from './encoding.ts'
import { signingMessage, taggedHash } from './hash.ts'
import type { Ed25519Verifier } from './verifier.ts'
import type { CertEntry, NetworkConfig, QuorumMessage } from './types.ts'

export function releasePayload (timestamp: number): Uint8Array {
  return new Writer(8).u64(timestamp).finish()
}

export function resumePayload (parentHash: Uint8Array, timestamp: number): Uint8Array {
  return new Writer(40).fixed(parentHash, 32).u64(timestamp).finish()
}

/** The message a release signer signs (release) or signs to resume a stalled tip (resume). */
export function quorumSigningMessage (networkId: Uint8Array, m: { kind: 'release' | 'resume', timestamp: number, parentHash?: Uint8Array }): Uint8Array {
  return m.kind === 'release'
    ? signingMessage(TAG.release, networkId, releasePayload(m.timestamp))
    : signingMessage(TAG.resume, networkId, resumePayload(m.parentHash!, m.timestamp))
}

/** Validates one release or resume message from the network. */
export async function validateQuorumMessage (config: NetworkConfig, networkId: Uint8Array, m: QuorumMessage, verifier: Ed25519Verifier): Promise<void> {
  const key = config.releaseSigners[m.signer]
  if (key === undefined) throw new ProtocolError('NOT_A_RELEASE_SIGNER', { signer: m.signer, signers: config.releaseSigners.length })
  const ok = await verifier.verify(key, quorumSigningMessage(networkId, m), m.signature)
  if (!ok) throw new ProtocolError('RELEASE_INVALID', { kind: m.kind, signer: m.signer })
}

/**
 * Validates a certificate: at least M entries, signer indices strictly ascending and listed, every
 * signature valid (any invalid entry from a listed signer rejects the whole certificate).
 * Returns the certificate time: the latest entry timestamp.
 */
export async function validateCertificate (
  config: NetworkConfig, networkId: Uint8Array, cert: CertEntry[], kind: 'release' | 'resume',
  verifier: Ed25519Verifier, parentHash?: Uint8Array
): Promise<number> {
  check(cert.length >= config.releaseThreshold, 'RELEASE_INSUFFICIENT', { kind, signed: cert.length, required: config.releaseThreshold })
  let prev = -1
  let time = 0
  for (const c of cert) {
    check(c.signer > prev, 'SIGNER_ORDER', { kind, signer: c.signer, previous: prev })
    check(c.signer < config.releaseSigners.length, 'NOT_A_RELEASE_SIGNER', { signer: c.signer, signers: config.releaseSigners.length })
    prev = c.signer
    time = Math.max(time, c.timestamp)
  }
  const results = await Promise.all(cert.map(async (c) =>
    await verifier.verify(config.releaseSigners[c.signer]!, quorumSigningMessage(networkId, { kind, timestamp: c.timestamp, parentHash }), c.signature)))
  const bad = results.findIndex((ok) => !ok)
  if (bad >= 0) throw new ProtocolError('RELEASE_INVALID', { kind, signer: cert[bad]!.signer })
  return time
}

/**
 * Deterministic choice among valid messages seen: the M lowest signer indices (one message per signer,
 * the earliest timestamp if a signer sent several). Returns undefined until M distinct signers are known.
 */
export function selectCertificate (messages: Iterable<QuorumMessage>, threshold: number): CertEntry[] | undefined {
  const bySigner = new Map<number, CertEntry>()
  for (const m of messages) {
    const have = bySigner.get(m.signer)
    if (have === undefined || m.timestamp < have.timestamp) bySigner.set(m.signer, { signer: m.signer, timestamp: m.timestamp, signature: m.signature })
  }
  if (bySigner.size < threshold) return undefined
  return [...bySigner.values()].sort((a, b) => a.signer - b.signer).slice(0, threshold)
}

/** The genesis seed: unknowable until M signers have signed, since it hashes their signatures. */
export function computeGenesisSeed (networkId: Uint8Array, cert: CertEntry[]): Uint8Array {
  return taggedHash(TAG.genesisSeed, networkId, encodeCert(cert))
}

export function computeCertRoot (cert: CertEntry[]): Uint8Array {
  return taggedHash(TAG.certRoot, encodeCert(cert))
}
