/**
 * How often libp2p's connection monitor pings each connection (it pings every connection from both ends, on
 * the ping protocol, and aborts one whose ping fails). libp2p's default, every 10 s, is most of an idle peer's
 * traffic: each ping opens a stream (multistream-select, yamux and Noise frames around 32 bytes of payload),
 * about 275 bytes each way, so 14 connections pinged from both ends came to 5.3 MiB an hour with nothing else
 * on the wire (bench/bytes-per-hour.ts). A light peer (a tab, a phone) pings every 60 s; full nodes every
 * 30 s, so a link between a light peer and a full node is pinged every 20 s on average and a dead one is
 * found within about 30 s plus the ping's timeout. A sync request or gossip on a dead link fails sooner.
 */
import type { PeerRole } from './peer.ts'

export const PING_INTERVAL_MS: Readonly<Record<PeerRole, number>> = { light: 60_000, validator: 30_000, bootstrap: 30_000 }

/** The `connectionMonitor` option of createLibp2p for a peer of `role`. */
export function connectionMonitorFor (role: PeerRole): { pingInterval: number } {
  return { pingInterval: PING_INTERVAL_MS[role] }
}
