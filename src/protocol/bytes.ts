/** Byte helpers and a bounded reader/writer for the canonical binary encoding. */
import { ProtocolError } from './errors.ts'

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function toHex (b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!]
  return s
}

export function fromHex (hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new ProtocolError('NON_CANONICAL', { field: 'hex' })
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  let len = 0
  for (const p of parts) len += p.length
  const out = new Uint8Array(len)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

export function equals (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Lexicographic byte comparison. */
export function compare (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}

const textEncoder = new TextEncoder()
export function utf8 (s: string): Uint8Array { return textEncoder.encode(s) }

export const ZERO32 = new Uint8Array(32)

const MAX_SAFE = Number.MAX_SAFE_INTEGER

function checkUint (v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`unsigned integer out of range: ${v} (max ${max})`)
}

/** Growable writer of the canonical big-endian encoding. */
export class Writer {
  private buf: Uint8Array
  private view: DataView
  private len = 0

  constructor (capacity = 256) {
    this.buf = new Uint8Array(capacity)
    this.view = new DataView(this.buf.buffer)
  }

  private reserve (n: number): void {
    if (this.len + n <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.len + n) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  // Out-of-range values throw instead of wrapping silently (DataView would store -1 as 65535).
  u8 (v: number): this { checkUint(v, 0xff); this.reserve(1); this.view.setUint8(this.len, v); this.len += 1; return this }
  u16 (v: number): this { checkUint(v, 0xffff); this.reserve(2); this.view.setUint16(this.len, v); this.len += 2; return this }
  u32 (v: number): this { checkUint(v, 0xffff_ffff); this.reserve(4); this.view.setUint32(this.len, v); this.len += 4; return this }
  u64 (v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`)
    this.reserve(8)
    this.view.setUint32(this.len, Math.floor(v / 0x1_0000_0000))
    this.view.setUint32(this.len + 4, v >>> 0)
    this.len += 8
    return this
  }

  fixed (b: Uint8Array, n: number): this {
    if (b.length !== n) throw new RangeError(`expected ${n} bytes, got ${b.length}`)
    this.reserve(n); this.buf.set(b, this.len); this.len += n; return this
  }

  /** u16 length prefix then bytes. */
  bytes16 (b: Uint8Array): this {
    if (b.length > 0xffff) throw new RangeError('bytes16 too long')
    this.u16(b.length); this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; return this
  }

  raw (b: Uint8Array): this { this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; return this }

  finish (): Uint8Array { return this.buf.slice(0, this.len) }
}

/** Bounded reader: every read checks the remaining length; `end()` rejects trailing bytes. */
export class Reader {
  private readonly view: DataView
  private readonly buf: Uint8Array
  private readonly what: string
  private off = 0

  constructor (buf: Uint8Array, what: string) {
    this.buf = buf
    this.what = what
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get remaining (): number { return this.buf.length - this.off }
  get offset (): number { return this.off }

  private need (n: number, field: string): void {
    if (this.off + n > this.buf.length) throw new ProtocolError('TRUNCATED', { what: this.what, field, at: this.off, need: n })
  }

  u8 (field: string): number { this.need(1, field); const v = this.view.getUint8(this.off); this.off += 1; return v }
  u16 (field: string): number { this.need(2, field); const v = this.view.getUint16(this.off); this.off += 2; return v }
  u32 (field: string): number { this.need(4, field); const v = this.view.getUint32(this.off); this.off += 4; return v }
  u64 (field: string): number {
    this.need(8, field)
    const hi = this.view.getUint32(this.off)
    const lo = this.view.getUint32(this.off + 4)
    this.off += 8
    const v = hi * 0x1_0000_0000 + lo
    if (v > MAX_SAFE) throw new ProtocolError('NON_CANONICAL', { what: this.what, field, reason: 'u64 above 2^53-1' })
    return v
  }

  fixed (n: number, field: string): Uint8Array {
    this.need(n, field)
    const out = this.buf.slice(this.off, this.off + n)
    this.off += n
    return out
  }

  bytes16 (max: number, field: string): Uint8Array {
    const n = this.u16(field)
    if (n > max) throw new ProtocolError('TOO_LARGE', { what: this.what, field, size: n, max })
    return this.fixed(n, field)
  }

  /** A count with a finite limit. */
  count (width: 1 | 2, max: number, field: string): number {
    const n = width === 1 ? this.u8(field) : this.u16(field)
    if (n > max) throw new ProtocolError('TOO_LARGE', { what: this.what, field, count: n, max })
    return n
  }

  end (): void {
    if (this.off !== this.buf.length) throw new ProtocolError('TRAILING_BYTES', { what: this.what, extra: this.buf.length - this.off })
  }
}
