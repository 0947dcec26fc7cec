/** On-disk formats for Node nodes: the network config (JSON, hex keys) and key files. */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair, privateKeyFromRaw } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { fromHex, toHex } from '../protocol/index.ts'
import type { NetworkConfig } from '../protocol/index.ts'
import { networkFromFile, networkToFile } from '../peer/network-file.ts'
import type { NetworkFile } from '../peer/network-file.ts'
export { networkFromFile, networkToFile }
export type { NetworkFile }

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code: string
  constructor (code: string, message: string) { super(message); this.code = code }
}

export async function loadNetwork (path: string): Promise<NetworkConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new ConfigError('CONFIG_MISSING', `network file not found: ${path} (create one with 'lightpulse devnet' or pass --network FILE)`)
  }
  try {
    return networkFromFile(JSON.parse(text) as NetworkFile)
  } catch (err) {
    throw new ConfigError('CONFIG_INVALID', `network file ${path} is invalid: ${(err as Error).message}`)
  }
}

/** A 32-byte Ed25519 seed from a hex string or a file holding one. */
export async function loadSeed (keyOrFile: string): Promise<Uint8Array> {
  const text = /^[0-9a-fA-F]{64}$/.test(keyOrFile) ? keyOrFile : (await readFile(keyOrFile, 'utf8').catch(() => { throw new ConfigError('KEY_MISSING', `key file not found: ${keyOrFile}`) })).trim()
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new ConfigError('KEY_INVALID', 'a key is 64 hex characters (a 32-byte Ed25519 seed)')
  return fromHex(text)
}

export function newSeed (): Uint8Array {
  return new Uint8Array(randomBytes(32))
}

/** The node's libp2p identity, created once and kept in `<dir>/peer.key`. */
export async function loadOrCreatePeerKey (dir: string): Promise<PrivateKey> {
  await mkdir(dir, { recursive: true })
  const file = join(dir, 'peer.key')
  if (existsSync(file)) return privateKeyFromRaw(fromHex((await readFile(file, 'utf8')).trim()))
  const key = await generateKeyPair('Ed25519')
  await writeFile(file, toHex(key.raw), { mode: 0o600 })
  return key
}
