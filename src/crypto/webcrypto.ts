/** Ed25519 with WebCrypto (browsers, workers; strict RFC 8032). Imported keys are cached. */
import { toHex } from '../protocol/bytes.ts'
import type { Ed25519Verifier, Signer } from './types.ts'

export async function isWebCryptoEd25519Available (): Promise<boolean> {
  try {
    const subtle = globalThis.crypto?.subtle
    if (subtle === undefined) return false
    await subtle.importKey('raw', new Uint8Array(32).fill(1), { name: 'Ed25519' }, false, ['verify'])
    return true
  } catch {
    return false
  }
}

export function createWebCryptoVerifier (maxCachedKeys = 10_000): Ed25519Verifier {
  const cache = new Map<string, Promise<CryptoKey>>()
  const subtle = globalThis.crypto.subtle
  return {
    verify: async (publicKey, message, signature) => {
      if (publicKey.length !== 32 || signature.length !== 64) return false
      const id = toHex(publicKey)
      let key = cache.get(id)
      if (key === undefined) {
        if (cache.size >= maxCachedKeys) cache.clear()
        key = subtle.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])
        cache.set(id, key)
      }
      try {
        return await subtle.verify({ name: 'Ed25519' }, await key, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>)
      } catch {
        cache.delete(id)
        return false
      }
    }
  }
}

/** A fresh non-extractable Ed25519 key: the private key can sign but can never be read back. */
export async function generateWebCryptoSigner (): Promise<{ signer: Signer, keyPair: CryptoKeyPair }> {
  const keyPair = await globalThis.crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']) as CryptoKeyPair
  return { signer: await webCryptoSignerFromKeyPair(keyPair), keyPair }
}

export async function webCryptoSignerFromKeyPair (keyPair: CryptoKeyPair): Promise<Signer> {
  const publicKey = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', keyPair.publicKey))
  return {
    publicKey,
    sign: async (message) => new Uint8Array(await globalThis.crypto.subtle.sign({ name: 'Ed25519' }, keyPair.privateKey, message as Uint8Array<ArrayBuffer>))
  }
}
