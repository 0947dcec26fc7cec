/** The `lightpulse` command's help texts. */
export const HELP = `lightpulse: a light peer and the Pulse-style quorum-signed network it joins

Usage: lightpulse <command> [options]

Commands:
  devnet      Run a whole local network on loopback: bootstraps, validators, release signers.
              Lifts the stasis lock, produces blocks, serves the browser peer's page.
  bootstrap   Run a bootstrap peer (TCP, WebSockets, WebRTC-direct, circuit relay, peer exchange).
  validator   Run a validator: follows the chain and signs when the quorum selects its key.
  release     As a release signer, publish this signer's release message (M of them lift the lock).
  host        Run several bootstraps or validators in one process (what devnet does; --spec FILE).
  keygen      Print a new Ed25519 key: 32-byte seed (keep secret) and public key.
  launch-test Run the bootstrap confirmation tests (peer exchange, connection management, routing,
              upper limits, mesh stability) with real light peers on loopback, or --sim.

Run 'lightpulse <command> --help' for the options of a command.
`

export const COMMAND_HELP: Record<string, string> = {
  host: `Usage: lightpulse host --spec FILE

Runs several bootstraps or validators in this one process, each exactly as its own command would.
FILE is JSON: [{ "name": "validator-0", "command": "validator", "args": [...] }, ...]. Each node's
events go to stdout as JSON lines tagged with "node": its name. The devnet uses this to keep its
memory down; a kill -9 of the process takes down all of its nodes.
`,
  bootstrap: `lightpulse bootstrap --network FILE [options]
  --network FILE        network config (JSON) [required]
  --data DIR            data directory (peer key, chain store, certificates) [default: ./.data/bootstrap]
  --listen MULTIADDR    listen address (repeatable) [default: tcp, ws, webrtc-direct and webtransport on
                        127.0.0.1, random ports; webtransport needs Deno (npm install deno, or LIGHTPULSE_DENO=PATH)]
  --port N              base port: tcp N, ws N+1, webrtc-direct udp N+2, webtransport udp N+3 (instead of random ports)
  --max-connections N   connection high watermark [default: 192]
  --config FILE         JSON settings: lowWatermark, highWatermark, gracePeriodMs, heartbeatMs,
                        meshD, meshDlo, meshDhi, metricsPort, pxHistory, pxHistorySize, syncRequestsPerSecond,
                        syncStreams, syncBytesPerSecond (flags override the file)
  --low-watermark N     trim connections down to N when the high watermark is reached
  --high-watermark N    hard cap on connections, never exceeded (--max-connections is the old name)
  --grace-period-ms N   connections younger than this are never trimmed [default: 60000]
  --metrics-port N      serve Prometheus metrics at http://127.0.0.1:N/metrics (0 = any free port)
  --heartbeat-ms N      gossipsub heartbeat [default: 700]
  --px-history N        PX entries per PRUNE drawn from earlier-pruned peers, 0 = off [default: 8 of 16]
  --px-history-size N   peers kept in that history, per topic [default: 4096]
  --sync-rps N          sync requests per second one peer may make (burst 2N) [default: 20]
  --sync-streams N      sync streams one peer may have open at once [default: 4]
  --sync-bytes-per-s N  sync bytes per second served to one peer (burst 2N) [default: 4194304]
  --webtransport-cert-validity-ms N  TEST ONLY: WebTransport certificate validity (rotation at half of it)
  --bootstrap MULTIADDR another bootstrap to stay connected to (repeatable)
  --local               loopback/local network: no IP-colocation penalty, high inbound rate limit
  --events              print one JSON object per line on stdout (for orchestration)
  --quiet               no log lines on stderr
`,
  validator: `lightpulse validator --network FILE --key KEY --bootstrap MULTIADDR [options]
  --network FILE        network config (JSON) [required]
  --key HEX|FILE        validator key seed (64 hex chars, or a file holding them) [required]
  --bootstrap MULTIADDR bootstrap address with /p2p/ id (repeatable) [required]
  --data DIR            data directory [default: ./.data/validator-<key prefix>]
  --listen MULTIADDR    listen address (repeatable) [default: tcp and ws on 127.0.0.1]
  --no-register         do not publish a registration when the live chain lacks this key (by default a
                        validator registers whenever its key is missing: never registered, or removed for
                        missed duties while it was down; --register is accepted and changes nothing)
  --local               loopback/local network: no IP-colocation penalty, high inbound rate limit
  --mesh-d N, --mesh-dlo N, --mesh-dhi N   gossipsub mesh degree target/low/high [default: 8/6/12]
  --heartbeat-ms N      gossipsub heartbeat [default: 700]
  --config FILE         JSON settings: lowWatermark, highWatermark, gracePeriodMs, heartbeatMs,
                        meshD, meshDlo, meshDhi, metricsPort, syncRequestsPerSecond, syncStreams,
                        syncBytesPerSecond (flags override the file)
  --low-watermark N     trim connections down to N when the high watermark is reached
  --high-watermark N    hard cap on connections, never exceeded (--max-connections is the old name)
  --grace-period-ms N   connections younger than this are never trimmed [default: 60000]
  --metrics-port N      serve Prometheus metrics at http://127.0.0.1:N/metrics (0 = any free port)
                        (validator defaults: low 48, high 64)
  --gossip-rounds       send round messages by gossip only, not straight to the round's producer and
                        members (PROTOCOL.md §3.10); for comparison and debugging
  --checkpoint H:HASH   start from the trusted checkpoint block H (its hash in hex) instead of genesis:
                        its state is fetched from peers and verified against HASH (PROTOCOL.md §3.11)
  --prune N             keep only the newest N blocks (at least 64) [default: keep every block]
  --hostile MODE        TEST ONLY: misbehave on purpose. silent-reveal = commit, then never reveal
  --sync-rps N          sync requests per second one peer may make (burst 2N) [default: 20]
  --sync-streams N      sync streams one peer may have open at once [default: 4]
  --sync-bytes-per-s N  sync bytes per second served to one peer (burst 2N) [default: 4194304]
  --events              print one JSON object per line on stdout
  --quiet               no log lines on stderr
`,
  release: `lightpulse release --network FILE --key KEY --index I --bootstrap MULTIADDR [options]
  --network FILE        network config (JSON) [required]
  --key HEX|FILE        this release signer's key seed [required]
  --index I             this signer's index in the network's release signer list [required]
  --bootstrap MULTIADDR bootstrap address (repeatable) [required]
  --resume              instead of releasing genesis: once the chain is stalled (255 failed rounds), sign and
                        publish a resume message for its tip (M of them restart block production)
  --timeout S           give up after S seconds without genesis (or without a stall, with --resume) [default: 120]
  --events              print one JSON object per line on stdout
  Exits 0 once a bootstrap reports the genesis (not merely once this signer holds it), 3 on --timeout.
`,
  devnet: `lightpulse devnet [options]
  --validators N        validators in the genesis set (>= 12) [default: 16]
  --bootstraps N        bootstrap peers [default: 2]
  --release-signers N   listed release signers [default: 5]
  --threshold M         release signatures needed to lift the stasis lock [default: 3]
  --until-height H      run until H is final on every running validator, print a summary, exit (0 ok, 1 stall)
  --json                print the summary as one JSON object on stdout
  --offline K           keep K validators down (the K with the lowest public keys: the first round-0 producers)
  --validators-per-process N
                        validators sharing one OS process (lightpulse host) [default: 8]
  --process-per-node    one OS process per validator, so one can be killed alone (--stagger implies it)
  --stagger             start validators at different heights and kill -9 / restart some mid-run
  --hold-release MS     publish only M-1 release messages, check for MS that no block appears, then the M-th
  --stall-seconds S     declare a stall when no block arrives for S seconds [default: 30]
  --data DIR            where keys and stores go [default: a fresh temporary directory]
  --port N              HTTP port of the browser peer's page [default: 5173]
  --no-web              do not serve the browser peer's page
`
}
