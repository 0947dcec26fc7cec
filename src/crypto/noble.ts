/** Pure-JS Ed25519 (@noble/curves) with strict RFC 8032 verification, the fallback where WebCrypto lacks Ed25519. */
import { ed25519 } from '@noble/curves/ed25519.js'
import type { Ed25519Verifier, Signer } from './types.ts'

export function createNobleVerifier (): Ed25519Verifier {
  return {
    verify: async (publicKey, message, signature) => {
      try {
        return ed25519.verify(signature, message, publicKey, { zip215: false })
      } catch {
        return false
      }
    }
  }
}

/** A signer from a 32-byte Ed25519 seed (deterministic test keys, CLI-generated keys). */
export function createNobleSigner (seed: Uint8Array): Signer {
  const publicKey = ed25519.getPublicKey(seed)
  return { publicKey, sign: async (message) => ed25519.sign(message, seed) }
}

export function publicKeyFromSeed (seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed)
}
