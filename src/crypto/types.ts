import type { Ed25519Verifier } from '../protocol/verifier.ts'
export type { Ed25519Verifier }

/** A key that signs. The private part may be non-extractable (WebCrypto) and never leaves its holder. */
export interface Signer {
  readonly publicKey: Uint8Array
  sign: (message: Uint8Array) => Promise<Uint8Array>
}
