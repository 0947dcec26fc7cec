/**
 * The byte framing between a node and its WebTransport sidecar (src/node/webtransport/sidecar.ts), shared by
 * both sides: pure TypeScript with no Node or Deno API, so that Deno runs this very file.
 *
 * Every socket between the two starts with one header line (JSON, '\n'-terminated, at most MAX_HEADER bytes).
 * A session's control socket then carries more JSON lines; a stream's socket carries frames
 * `[type u8][length u32 big-endian][payload]`: DATA (payload ≤ MAX_FRAME bytes), FIN (the sender will write no
 * more: WebTransport's writer.close), RESET (the stream is aborted both ways: RESET_STREAM + STOP_SENDING) and
 * STOP (the sender will read no more: STOP_SENDING). The sidecar and the node run on one host and trust each
 * other through a per-process token in each header; nothing here is seen by a remote peer.
 */

export const FRAME_DATA = 0
export const FRAME_FIN = 1
export const FRAME_RESET = 2
export const FRAME_STOP = 3
export type FrameType = typeof FRAME_DATA | typeof FRAME_FIN | typeof FRAME_RESET | typeof FRAME_STOP

/** Largest DATA payload in one frame (larger writes are split). */
export const MAX_FRAME = 64 * 1024
/** Largest header or control line. */
export const MAX_HEADER = 4096

export interface Frame { type: FrameType, payload: Uint8Array }

/** Encodes one frame; DATA larger than MAX_FRAME must be split by the caller (see dataFrames). */
export function encodeFrame (type: FrameType, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(5 + payload.byteLength)
  out[0] = type
  new DataView(out.buffer).setUint32(1, payload.byteLength)
  out.set(payload, 5)
  return out
}

/** DATA frames for any number of bytes, each at most MAX_FRAME. */
export function dataFrames (bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < bytes.byteLength; at += MAX_FRAME) out.push(encodeFrame(FRAME_DATA, bytes.subarray(at, at + MAX_FRAME)))
  return out
}

export function encodeLine (value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value) + '\n')
}

export class FramingError extends Error {
  readonly code = 'WT_BRIDGE_FRAMING'
}

/**
 * Reads the header line, then either lines (control sockets) or frames (stream sockets), from chunks in order.
 * Throws FramingError on an oversized line, an unknown frame type or an oversized frame.
 */
export class BridgeReader {
  private buf = new Uint8Array(0)
  private header: unknown

  push (chunk: Uint8Array): void {
    const next = new Uint8Array(this.buf.byteLength + chunk.byteLength)
    next.set(this.buf)
    next.set(chunk, this.buf.byteLength)
    this.buf = next
  }

  /** The header, once its line is complete (undefined before). */
  readHeader (): unknown {
    if (this.header !== undefined) return this.header
    const line = this.takeLine()
    if (line !== undefined) this.header = line
    return this.header
  }

  /** Bytes buffered past what was read so far. */
  rest (): Uint8Array {
    const out = this.buf
    this.buf = new Uint8Array(0)
    return out
  }

  /** The next complete control line, or undefined. */
  nextLine (): unknown {
    return this.takeLine()
  }

  /** The next complete frame, or undefined. */
  nextFrame (): Frame | undefined {
    if (this.buf.byteLength < 5) return undefined
    const type = this.buf[0]!
    if (type > FRAME_STOP) throw new FramingError(`unknown frame type ${type}`)
    const len = new DataView(this.buf.buffer, this.buf.byteOffset).getUint32(1)
    if (len > MAX_FRAME) throw new FramingError(`frame of ${len} bytes`)
    if (this.buf.byteLength < 5 + len) return undefined
    const payload = this.buf.slice(5, 5 + len)
    this.buf = this.buf.subarray(5 + len)
    return { type: type as FrameType, payload }
  }

  private takeLine (): unknown {
    const nl = this.buf.indexOf(10)
    if (nl < 0) {
      if (this.buf.byteLength > MAX_HEADER) throw new FramingError('header line too long')
      return undefined
    }
    if (nl > MAX_HEADER) throw new FramingError('header line too long')
    const text = new TextDecoder().decode(this.buf.subarray(0, nl))
    this.buf = this.buf.subarray(nl + 1)
    try {
      return JSON.parse(text)
    } catch {
      throw new FramingError('header line is not JSON')
    }
  }
}
