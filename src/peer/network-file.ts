/** The network config's JSON form (hex keys), shared by the Node CLI and the browser client. */
import { fromHex, toHex, validateNetworkConfig } from '../protocol/index.ts'
import type { NetworkConfig } from '../protocol/index.ts'

export interface NetworkFile {
  name: string
  preset: 'mainnet' | 'devnet'
  releaseSigners: string[]
  releaseThreshold: number
  genesisValidators: string[]
}

export function networkFromFile (f: NetworkFile): NetworkConfig {
  const config: NetworkConfig = {
    name: f.name,
    preset: f.preset,
    releaseSigners: f.releaseSigners.map(fromHex),
    releaseThreshold: f.releaseThreshold,
    genesisValidators: f.genesisValidators.map(fromHex)
  }
  validateNetworkConfig(config)
  return config
}

export function networkToFile (c: NetworkConfig): NetworkFile {
  return { name: c.name, preset: c.preset, releaseSigners: c.releaseSigners.map(toHex), releaseThreshold: c.releaseThreshold, genesisValidators: c.genesisValidators.map(toHex) }
}
