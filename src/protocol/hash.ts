/** SHA-256, synchronous and portable (Node, browser, worker): @noble/hashes. */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { concat, utf8 } from './bytes.ts'

const tagCache = new Map<string, Uint8Array>()

function tagBytes (tag: string): Uint8Array {
  let t = tagCache.get(tag)
  if (t === undefined) {
    const raw = utf8(tag)
    t = concat(new Uint8Array([raw.length]), raw)
    tagCache.set(tag, t)
  }
  return t
}

export function sha256 (data: Uint8Array): Uint8Array {
  return nobleSha256(data)
}

/** sha256(len(tag) || tag || parts...). */
export function taggedHash (tag: string, ...parts: Uint8Array[]): Uint8Array {
  return nobleSha256(concat(tagBytes(tag), ...parts))
}

/** The bytes an Ed25519 signature of kind `tag` covers on network `networkId`. */
export function signingMessage (tag: string, networkId: Uint8Array, payload: Uint8Array): Uint8Array {
  return concat(tagBytes(tag), networkId, payload)
}
