/**
 * WebTransport certificates for a node's listener. A browser accepts a self-signed certificate only through
 * `serverCertificateHashes`, only if it is ECDSA P-256 and valid for at most 14 days, so the listener rotates
 * (as go-libp2p does): certificate i is valid over [start_i − skew, start_i + validity], start_{i+1} = start_i +
 * validity / 2; the listener serves the newest certificate already started and advertises its hash and the
 * next one's, so a multiaddr handed out before a rotation still names the certificate served after it.
 * The Noise handshake lists the previous certificate's hash too while it is valid: libp2p's WebTransport
 * dialer refuses a listener unless every certhash it dialed is in that list (go-libp2p does the same).
 * The pair persists in `<dir>/webtransport-certs.json` (mode 0600: it holds the private keys), so a restart
 * keeps the advertised multiaddr.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { base64url } from 'multiformats/bases/base64'
import { sha256 } from 'multiformats/hashes/sha2'


/** Default validity of one certificate: 12 days (the browsers' ceiling is 14, less the skew allowance). */
export const CERT_VALIDITY_MS = 12 * 24 * 3600_000
/** A certificate's notBefore lies this far before its start, for clients whose clock runs behind. */
export const CERT_SKEW_MS = 3600_000
/** The browsers' ceiling on a hash-pinned certificate's whole validity. */
export const MAX_CERT_VALIDITY_MS = 14 * 24 * 3600_000

export interface WtCertificate {
  /** When the listener starts serving it (ms since epoch). */
  start: number
  notBefore: number
  notAfter: number
  certPem: string
  keyPem: string
  /** multibase base64url of the sha2-256 multihash of the DER: the multiaddr's /certhash/ value. */
  certhash: string
}

export interface CertOptions {
  validityMs?: number
  skewMs?: number
  /** The IP the certificate names (subjectAltName); informational, browsers pin the hash. */
  host?: string
}

export async function generateCertificate (start: number, o: CertOptions = {}): Promise<WtCertificate> {
  const validity = o.validityMs ?? CERT_VALIDITY_MS
  const skew = o.skewMs ?? CERT_SKEW_MS
  if (validity + skew > MAX_CERT_VALIDITY_MS) throw new RangeError(`certificate validity ${validity + skew} ms is over the browsers' 14 days`)
  const notBefore = Math.floor((start - skew) / 1000) * 1000
  const notAfter = Math.floor((start + validity) / 1000) * 1000
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  const serial = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + serial,
    name: 'CN=lightpulse',
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: o.host ?? '127.0.0.1' }])
    ]
    // Node's own WebCrypto made the keys: say so, whatever provider another module (@libp2p/webrtc) set globally.
  }, globalThis.crypto)
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey))
  const keyPem = ['-----BEGIN PRIVATE KEY-----', ...Buffer.from(pkcs8).toString('base64').match(/.{1,64}/g)!, '-----END PRIVATE KEY-----', ''].join('\n')
  const certhash = base64url.encode((await sha256.digest(new Uint8Array(cert.rawData))).bytes)
  return { start, notBefore, notAfter, certPem: cert.toString('pem'), keyPem, certhash }
}

/** The certhash's multihash bytes (what Noise's webtransportCerthashes extension carries). */
export function certhashBytes (certhash: string): Uint8Array {
  return base64url.decode(certhash)
}

/** The served certificate and the next, rolled forward to `now`, from `dir` if it holds a usable pair. */
export class CertificateStore {
  private pair: [WtCertificate, WtCertificate] | undefined
  private readonly validity: number
  private readonly dir: string | undefined
  private readonly o: CertOptions

  constructor (dir: string | undefined, o: CertOptions = {}) {
    this.dir = dir
    this.o = o
    this.validity = o.validityMs ?? CERT_VALIDITY_MS
  }

  get current (): WtCertificate { return this.need()[0] }
  get next (): WtCertificate { return this.need()[1] }
  /** When the next certificate starts: the listener rotates then. */
  get rotatesAt (): number { return this.need()[1].start }
  /** The certificate served before the current one, while it is still valid at `now`. */
  previousAt (now: number): WtCertificate | undefined { return this.previous !== undefined && this.previous.notAfter > now ? this.previous : undefined }
  private previous: WtCertificate | undefined

  /** Loads or makes the pair and rolls it forward to `now`; true if the served certificate changed. */
  async roll (now: number): Promise<boolean> {
    if (this.pair === undefined) {
      const stored = await this.load()
      this.pair = stored?.pair
      this.previous = stored?.previous
    }
    const before = this.pair?.[0].certhash
    let [cur, next] = this.pair ?? [undefined, undefined]
    if (cur === undefined || next === undefined || cur.notAfter <= now || next.start - cur.start !== this.validity / 2) {
      cur = await generateCertificate(now, this.o)
      next = await generateCertificate(now + this.validity / 2, this.o)
    }
    while (next.start <= now) {
      this.previous = cur
      cur = next
      next = await generateCertificate(cur.start + this.validity / 2, this.o)
      // A node that slept past several rotations starts afresh from now rather than minting each one.
      if (cur.notAfter <= now) { cur = await generateCertificate(now, this.o); next = await generateCertificate(now + this.validity / 2, this.o) }
    }
    this.pair = [cur, next]
    await this.save()
    return before !== undefined && before !== cur.certhash
  }

  private need (): [WtCertificate, WtCertificate] {
    if (this.pair === undefined) throw new Error('CertificateStore.roll() has not run')
    return this.pair
  }

  private file (): string | undefined { return this.dir === undefined ? undefined : join(this.dir, 'webtransport-certs.json') }

  /** The file holds [current, next] or [current, next, previous]. */
  private async load (): Promise<{ pair: [WtCertificate, WtCertificate], previous?: WtCertificate } | undefined> {
    const file = this.file()
    if (file === undefined) return undefined
    try {
      const v = JSON.parse(await readFile(file, 'utf8')) as unknown
      if (!Array.isArray(v) || v.length < 2 || v.length > 3 || !isCert(v[0]) || !isCert(v[1]) || (v.length === 3 && !isCert(v[2]))) return undefined
      return { pair: [v[0], v[1]], ...(v.length === 3 ? { previous: v[2] as WtCertificate } : {}) }
    } catch {
      return undefined // absent or unreadable: make a new pair (the old multiaddr's hash changes)
    }
  }

  private async save (): Promise<void> {
    const file = this.file()
    if (file === undefined || this.dir === undefined) return
    await mkdir(this.dir, { recursive: true })
    await writeFile(file + '.tmp', JSON.stringify(this.previous !== undefined ? [...this.pair!, this.previous] : this.pair), { mode: 0o600 })
    await rename(file + '.tmp', file)
  }
}

function isCert (v: unknown): v is WtCertificate {
  const c = v as WtCertificate
  return typeof c === 'object' && c !== null && typeof c.start === 'number' && typeof c.notAfter === 'number' &&
    typeof c.notBefore === 'number' && typeof c.certPem === 'string' && typeof c.keyPem === 'string' && typeof c.certhash === 'string'
}
