/**
 * The canonical binary encoding. One encoding per type; decoding is bounded and rejects truncated,
 * oversized, trailing and non-canonical bytes, so encode(decode(b)) === b for every accepted b.
 */
import { ProtocolError, check } from './errors.ts'
import { Reader, Writer, utf8 } from './bytes.ts'
import {
  HEADER_SIZE, HEADER_VERSION, MAX_BLOCK_SIZE, MAX_BLOCK_TX_BYTES, MAX_CERT_ENTRIES, MAX_PAYLOAD_SIZE, MAX_ROUND_MESSAGE_SIZE,
  MAX_TAG_SIZE, MAX_TX_SIZE, MAX_TXS_PER_BLOCK, PRODUCER_POSITION, QUORUM_SIZE, MAX_RELEASE_SIGNERS
} from './constants.ts'
import type {
  Block, BlockHeader, BlockSignature, CertEntry, DataTx, NetworkConfig, QuorumMessage, RoundMessage, Transaction
} from './types.ts'

const BITSET_MASK = (1 << QUORUM_SIZE) - 1

// ---- header ----
export function writeHeader (w: Writer, h: BlockHeader): void {
  w.u8(h.version).u64(h.height).fixed(h.parentHash, 32).u64(h.timestamp).u8(h.round)
    .fixed(h.producer, 32).u16(h.bitset).u16(h.revealBitset).fixed(h.randomValue, 32).fixed(h.txRoot, 32)
    .fixed(h.registryRoot, 32).fixed(h.certRoot, 32).u64(h.anchorHeight).u64(h.anchorTimestamp)
}

export function encodeHeader (h: BlockHeader): Uint8Array {
  const w = new Writer(HEADER_SIZE)
  writeHeader(w, h)
  return w.finish()
}

function readHeader (r: Reader): BlockHeader {
  const version = r.u8('version')
  if (version !== HEADER_VERSION) throw new ProtocolError('BAD_VERSION', { version, expected: HEADER_VERSION })
  const h: BlockHeader = {
    version,
    height: r.u64('height'),
    parentHash: r.fixed(32, 'parentHash'),
    timestamp: r.u64('timestamp'),
    round: r.u8('round'),
    producer: r.fixed(32, 'producer'),
    bitset: r.u16('bitset'),
    revealBitset: r.u16('revealBitset'),
    randomValue: r.fixed(32, 'randomValue'),
    txRoot: r.fixed(32, 'txRoot'),
    registryRoot: r.fixed(32, 'registryRoot'),
    certRoot: r.fixed(32, 'certRoot'),
    anchorHeight: r.u64('anchorHeight'),
    anchorTimestamp: r.u64('anchorTimestamp')
  }
  if ((h.bitset & ~BITSET_MASK) !== 0) throw new ProtocolError('NON_CANONICAL', { field: 'bitset', bitset: h.bitset })
  if ((h.revealBitset & ~BITSET_MASK) !== 0) throw new ProtocolError('NON_CANONICAL', { field: 'revealBitset', bitset: h.revealBitset })
  return h
}

export function decodeHeader (bytes: Uint8Array): BlockHeader {
  const r = new Reader(bytes, 'header')
  const h = readHeader(r)
  r.end()
  return h
}

// ---- transactions ----
const TX_REGISTER = 1
const TX_DATA = 2

/** A data transaction without its signature: what its sender signs. */
export function encodeDataTxBody (tx: Omit<DataTx, 'signature' | 'kind'>): Uint8Array {
  const tag = utf8(tx.tag)
  if (!isValidTag(tag)) throw new RangeError(`invalid tag "${tx.tag}": 1..${MAX_TAG_SIZE} bytes of printable ASCII`)
  if (tx.payload.length > MAX_PAYLOAD_SIZE) throw new RangeError(`payload of ${tx.payload.length} bytes (max ${MAX_PAYLOAD_SIZE})`)
  const w = new Writer(52 + tag.length + tx.payload.length + 64)
  w.u8(TX_DATA).fixed(tx.sender, 32).u64(tx.seq).u64(tx.expires).u8(tag.length).raw(tag).bytes16(tx.payload)
  return w.finish()
}

/** Whether `tag` is 1..MAX_TAG_SIZE bytes, each printable ASCII (0x21..0x7e). */
export function isValidTag (tag: Uint8Array): boolean {
  if (tag.length < 1 || tag.length > MAX_TAG_SIZE) return false
  for (const c of tag) if (c < 0x21 || c > 0x7e) return false
  return true
}

/** The encoded size of a registration (kind, public key, signature). */
export const REGISTER_TX_SIZE = 97

/** The length of encodeTx(tx) without encoding it: a registration, or 116 + tag + payload for data (a tag is ASCII). */
export function encodedTxSize (tx: Transaction): number {
  return tx.kind === 'register' ? REGISTER_TX_SIZE : 116 + tx.tag.length + tx.payload.length
}

export function encodeTx (tx: Transaction): Uint8Array {
  if (tx.kind === 'register') return new Writer(REGISTER_TX_SIZE).u8(TX_REGISTER).fixed(tx.publicKey, 32).fixed(tx.signature, 64).finish()
  const body = encodeDataTxBody(tx)
  return new Writer(body.length + 64).raw(body).fixed(tx.signature, 64).finish()
}

export function decodeTx (bytes: Uint8Array): Transaction {
  if (bytes.length > MAX_TX_SIZE) throw new ProtocolError('TOO_LARGE', { what: 'tx', size: bytes.length, max: MAX_TX_SIZE })
  const r = new Reader(bytes, 'tx')
  const kind = r.u8('kind')
  let tx: Transaction
  if (kind === TX_REGISTER) {
    tx = { kind: 'register', publicKey: r.fixed(32, 'publicKey'), signature: r.fixed(64, 'signature') }
  } else if (kind === TX_DATA) {
    const sender = r.fixed(32, 'sender')
    const seq = r.u64('seq')
    const expires = r.u64('expires')
    const tagLen = r.u8('tagLength')
    if (tagLen > MAX_TAG_SIZE) throw new ProtocolError('TOO_LARGE', { what: 'tx', field: 'tag', size: tagLen, max: MAX_TAG_SIZE })
    const tag = r.fixed(tagLen, 'tag')
    if (!isValidTag(tag)) throw new ProtocolError('NON_CANONICAL', { what: 'tx', field: 'tag', reason: 'not 1..32 bytes of printable ASCII' })
    const payload = r.bytes16(MAX_PAYLOAD_SIZE, 'payload')
    if (seq < 1) throw new ProtocolError('NON_CANONICAL', { what: 'tx', field: 'seq', reason: 'sequence numbers start at 1' })
    tx = { kind: 'data', sender, seq, expires, tag: String.fromCharCode(...tag), payload, signature: r.fixed(64, 'signature') }
  } else {
    throw new ProtocolError('UNKNOWN_KIND', { what: 'tx', kind })
  }
  r.end()
  return tx
}

function writeTxs (w: Writer, txs: Transaction[]): void {
  if (txs.length > MAX_TXS_PER_BLOCK) throw new RangeError('too many txs')
  w.u16(txs.length)
  for (const tx of txs) w.bytes16(encodeTx(tx))
}

function readTxs (r: Reader): Transaction[] {
  const n = r.count(2, MAX_TXS_PER_BLOCK, 'txCount')
  const txs: Transaction[] = []
  let total = 0
  for (let i = 0; i < n; i++) {
    const bytes = r.bytes16(MAX_TX_SIZE, 'tx')
    total += bytes.length
    if (total > MAX_BLOCK_TX_BYTES) throw new ProtocolError('TOO_LARGE', { what: 'txs', field: 'bytes', size: total, max: MAX_BLOCK_TX_BYTES })
    txs.push(decodeTx(bytes))
  }
  return txs
}

// ---- certificates ----
export function writeCert (w: Writer, cert: CertEntry[]): void {
  w.u8(cert.length)
  for (const c of cert) w.u8(c.signer).u64(c.timestamp).fixed(c.signature, 64)
}

function readCert (r: Reader): CertEntry[] {
  const n = r.count(1, MAX_CERT_ENTRIES, 'certCount')
  const cert: CertEntry[] = []
  for (let i = 0; i < n; i++) {
    cert.push({ signer: r.u8('signer'), timestamp: r.u64('timestamp'), signature: r.fixed(64, 'signature') })
  }
  return cert
}

export function encodeCert (cert: CertEntry[]): Uint8Array {
  const w = new Writer(1 + cert.length * 73)
  writeCert(w, cert)
  return w.finish()
}

// ---- blocks ----
export function encodeBlock (b: Block): Uint8Array {
  const w = new Writer(HEADER_SIZE + 64 + b.signatures.length * 65 + b.txs.length * 100 + b.reveals.length * 32)
  writeHeader(w, b.header)
  writeTxs(w, b.txs)
  w.u8(b.signatures.length)
  for (const s of b.signatures) w.u8(s.index).fixed(s.signature, 64)
  writeCert(w, b.cert)
  writeSecrets(w, b.reveals)
  return w.finish()
}

export function decodeBlock (bytes: Uint8Array): Block {
  if (bytes.length > MAX_BLOCK_SIZE) throw new ProtocolError('TOO_LARGE', { what: 'block', size: bytes.length, max: MAX_BLOCK_SIZE })
  const r = new Reader(bytes, 'block')
  const header = readHeader(r)
  const txs = readTxs(r)
  const nsig = r.count(1, QUORUM_SIZE, 'signatureCount')
  const signatures: BlockSignature[] = []
  for (let i = 0; i < nsig; i++) signatures.push({ index: r.u8('signerIndex'), signature: r.fixed(64, 'signature') })
  const cert = readCert(r)
  const reveals = readSecrets(r, 'revealCount')
  r.end()
  return { header, txs, signatures, reveals, cert }
}

// ---- reveals (in blocks and final messages): u8 count (<= 11) || count x secret(32) ----
function writeSecrets (w: Writer, secrets: Uint8Array[]): void {
  if (secrets.length > QUORUM_SIZE) throw new RangeError('too many reveals')
  w.u8(secrets.length)
  for (const s of secrets) w.fixed(s, 32)
}

function readSecrets (r: Reader, what: string): Uint8Array[] {
  const n = r.count(1, QUORUM_SIZE, what)
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) out.push(r.fixed(32, 'secret'))
  return out
}

// ---- round messages ----
const ROUND_KIND = { commit: 1, template: 2, reveal: 3, signature: 4, final: 5 } as const

/** The bytes a round message's signature covers: everything but the signature. */
export function encodeRoundMessageBody (m: RoundMessage): Uint8Array {
  const w = new Writer(128)
  w.u8(ROUND_KIND[m.kind]).fixed(m.parentHash, 32).u8(m.round).u8(m.position)
  switch (m.kind) {
    case 'commit': w.fixed(m.commitment, 32); break
    case 'template':
      w.u16(m.bitset).u8(m.commitments.length)
      for (const c of m.commitments) w.fixed(c, 32)
      writeTxs(w, m.txs)
      break
    case 'reveal': w.fixed(m.secret, 32); break
    case 'signature': w.fixed(m.blockHash, 32).fixed(m.blockSignature, 64); break
    case 'final':
      w.u16(m.revealBitset)
      writeSecrets(w, m.reveals)
      break
  }
  return w.finish()
}

export function encodeRoundMessage (m: RoundMessage): Uint8Array {
  const body = encodeRoundMessageBody(m)
  return new Writer(body.length + 64).raw(body).fixed(m.signature, 64).finish()
}

export function decodeRoundMessage (bytes: Uint8Array): RoundMessage {
  if (bytes.length > MAX_ROUND_MESSAGE_SIZE) throw new ProtocolError('TOO_LARGE', { what: 'round-message', size: bytes.length, max: MAX_ROUND_MESSAGE_SIZE })
  const r = new Reader(bytes, 'round-message')
  const kind = r.u8('kind')
  const parentHash = r.fixed(32, 'parentHash')
  const round = r.u8('round')
  const position = r.u8('position')
  check(position <= PRODUCER_POSITION, 'NON_CANONICAL', { field: 'position', position })
  let m: RoundMessage
  const signature = new Uint8Array(64)
  switch (kind) {
    case ROUND_KIND.commit:
      m = { kind: 'commit', parentHash, round, position, commitment: r.fixed(32, 'commitment'), signature }
      break
    case ROUND_KIND.template: {
      const bitset = r.u16('bitset')
      if ((bitset & ~BITSET_MASK) !== 0) throw new ProtocolError('NON_CANONICAL', { field: 'bitset', bitset })
      const n = r.count(1, QUORUM_SIZE, 'commitmentCount')
      const commitments: Uint8Array[] = []
      for (let i = 0; i < n; i++) commitments.push(r.fixed(32, 'commitment'))
      m = { kind: 'template', parentHash, round, position, bitset, commitments, txs: readTxs(r), signature }
      break
    }
    case ROUND_KIND.reveal:
      m = { kind: 'reveal', parentHash, round, position, secret: r.fixed(32, 'secret'), signature }
      break
    case ROUND_KIND.signature:
      m = { kind: 'signature', parentHash, round, position, blockHash: r.fixed(32, 'blockHash'), blockSignature: r.fixed(64, 'blockSignature'), signature }
      break
    case ROUND_KIND.final: {
      const revealBitset = r.u16('revealBitset')
      if ((revealBitset & ~BITSET_MASK) !== 0) throw new ProtocolError('NON_CANONICAL', { field: 'revealBitset', bitset: revealBitset })
      m = { kind: 'final', parentHash, round, position, revealBitset, reveals: readSecrets(r, 'revealCount'), signature }
      break
    }
    default:
      throw new ProtocolError('UNKNOWN_KIND', { what: 'round-message', kind })
  }
  m.signature = r.fixed(64, 'signature')
  r.end()
  return m
}

// ---- release / resume messages ----
const RELEASE_KIND = 10
const RESUME_KIND = 11

export function encodeQuorumMessage (m: QuorumMessage): Uint8Array {
  const w = new Writer(120)
  w.u8(m.kind === 'release' ? RELEASE_KIND : RESUME_KIND).u8(m.signer).u64(m.timestamp)
  if (m.kind === 'resume') w.fixed(m.parentHash, 32)
  return w.fixed(m.signature, 64).finish()
}

export function decodeQuorumMessage (bytes: Uint8Array): QuorumMessage {
  if (bytes.length > 128) throw new ProtocolError('TOO_LARGE', { what: 'release-message', size: bytes.length, max: 128 })
  const r = new Reader(bytes, 'release-message')
  const kind = r.u8('kind')
  const signer = r.u8('signer')
  const timestamp = r.u64('timestamp')
  let m: QuorumMessage
  if (kind === RELEASE_KIND) m = { kind: 'release', signer, timestamp, signature: r.fixed(64, 'signature') }
  else if (kind === RESUME_KIND) m = { kind: 'resume', signer, timestamp, parentHash: r.fixed(32, 'parentHash'), signature: r.fixed(64, 'signature') }
  else throw new ProtocolError('UNKNOWN_KIND', { what: 'release-message', kind })
  r.end()
  return m
}

// ---- network config ----
export function encodeNetworkConfig (c: NetworkConfig): Uint8Array {
  const name = new TextEncoder().encode(c.name)
  check(name.length <= 32, 'TOO_LARGE', { field: 'name', size: name.length, max: 32 })
  check(c.releaseSigners.length <= MAX_RELEASE_SIGNERS, 'TOO_LARGE', { field: 'releaseSigners', count: c.releaseSigners.length, max: MAX_RELEASE_SIGNERS })
  const w = new Writer(256)
  w.bytes16(name).u8(c.preset === 'mainnet' ? 0 : 1).u8(c.releaseThreshold).u8(c.releaseSigners.length)
  for (const k of c.releaseSigners) w.fixed(k, 32)
  check(c.genesisValidators.length <= 0xffff, 'TOO_LARGE', { field: 'genesisValidators', count: c.genesisValidators.length, max: 0xffff })
  w.u16(c.genesisValidators.length)
  for (const k of c.genesisValidators) w.fixed(k, 32)
  return w.finish()
}
