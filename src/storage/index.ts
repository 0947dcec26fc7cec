/**
 * Platform-neutral storage API. The SQLite store is Node-only: import it from './sqlite-store.ts'
 * directly in Node code.
 */
export type { AppendOptions, ChainStore, Checkpoint, StoredBlock, StorageErrorCode } from './types.ts'
export { StorageError } from './types.ts'
export { createMemoryStore } from './memory-store.ts'
