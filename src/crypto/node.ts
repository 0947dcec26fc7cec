/**
 * Ed25519 on Node with node:crypto (OpenSSL). Verification runs asynchronously on libuv's thread pool,
 * so concurrent verifies use every core. Public keys are parsed once and cached.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { concat, toHex } from '../protocol/bytes.ts'
import type { Ed25519Verifier, Signer } from './types.ts'

const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])

export function createNodeVerifier (maxCachedKeys = 100_000): Ed25519Verifier {
  const cache = new Map<string, KeyObject>()
  const keyFor = (publicKey: Uint8Array): KeyObject | undefined => {
    if (publicKey.length !== 32) return undefined
    const id = toHex(publicKey)
    let key = cache.get(id)
    if (key === undefined) {
      try {
        key = createPublicKey({ key: Buffer.from(concat(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' })
      } catch {
        return undefined
      }
      if (cache.size >= maxCachedKeys) cache.clear()
      cache.set(id, key)
    }
    return key
  }
  return {
    verify: async (publicKey, message, signature) => {
      const key = keyFor(publicKey)
      if (key === undefined || signature.length !== 64) return false
      return await new Promise<boolean>((resolve) => {
        nodeVerify(null, message, key, signature, (err, ok) => { resolve(err == null && ok) })
      })
    }
  }
}

export function createNodeSigner (seed: Uint8Array): Signer {
  const key = createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, seed)), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32))
  return {
    publicKey,
    sign: async (message) => await new Promise<Uint8Array>((resolve, reject) => {
      nodeSign(null, message, key, (err, sig) => { if (err != null) reject(err); else resolve(new Uint8Array(sig)) })
    })
  }
}
