/** Gossip topic and protocol names, scoped to one network. */
import { toHex } from '../protocol/bytes.ts'

export interface Topics { blocks: string, rounds: string, txs: string, release: string }

export function networkTag (networkId: Uint8Array): string {
  return toHex(networkId).slice(0, 16)
}

export function topicsFor (networkId: Uint8Array): Topics {
  const n = networkTag(networkId)
  return {
    blocks: `/lightpulse/${n}/blocks/1`,
    rounds: `/lightpulse/${n}/rounds/1`,
    txs: `/lightpulse/${n}/txs/1`,
    release: `/lightpulse/${n}/release/1`
  }
}

export function syncProtocolFor (networkId: Uint8Array): string {
  return `/lightpulse/${networkTag(networkId)}/sync/1.0.0`
}

/** The direct round-message protocol between a round's producer and its members (PROTOCOL.md §3.10). */
export function quorumProtocolFor (networkId: Uint8Array): string {
  return `/lightpulse/${networkTag(networkId)}/quorum/1.0.0`
}
