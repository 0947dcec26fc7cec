/**
 * `lightpulse/node`: run a bootstrap, a validator or a whole loopback devnet from code (Node.js >= 22).
 * The `lightpulse` command is built on the same functions.
 */
export { startNode, defaultListen } from '../node/node.ts'
export type { NodeOptions, RunningNode } from '../node/node.ts'
export { Devnet } from '../node/devnet.ts'
export type { DevnetOptions, DevnetSummary, NodeView } from '../node/devnet.ts'
export { loadNetwork, loadSeed, newSeed, networkFromFile, networkToFile, ConfigError } from '../node/files.ts'
export type { NetworkFile } from '../node/files.ts'
export { resolveOpsConfig, DEFAULT_WATERMARKS } from '../node/node-config.ts'
export type { OpsConfig, OpsFlags } from '../node/node-config.ts'
export { createNodeSigner, createNodeVerifier } from '../crypto/node.ts'
export { serveUi, ensureUiBuilt } from '../node/web.ts'
export type { UiServer } from '../node/web.ts'
