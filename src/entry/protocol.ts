/**
 * `lightpulse/protocol`: the pure rules (encoding, quorum selection, rounds, the release quorum, block
 * validity), with the two Ed25519 verifiers that need no Node built-ins (WebCrypto, and @noble/curves
 * where WebCrypto has no Ed25519). Runs the same in Node.js, browsers and workers.
 */
export * from '../protocol/index.ts'
export { createWebCryptoVerifier, isWebCryptoEd25519Available } from '../crypto/webcrypto.ts'
export { createNobleVerifier } from '../crypto/noble.ts'
