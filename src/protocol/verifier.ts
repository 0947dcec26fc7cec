/**
 * Signature verification is injected: the protocol is the same everywhere, the fastest Ed25519 differs
 * (node:crypto on Node, WebCrypto in browsers, @noble/curves as the fallback). All implementations
 * apply the same rule: strict RFC 8032 verification (canonical S and A, cofactorless equation),
 * which is what WebCrypto enforces; the noble fallback is configured to match (zip215: false).
 */
export interface Ed25519Verifier {
  verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => Promise<boolean>
}
