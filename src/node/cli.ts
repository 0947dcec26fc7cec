#!/usr/bin/env node
/** The `lightpulse` command. */
import { toHex } from '../protocol/index.ts'
import { createNodeSigner } from '../crypto/node.ts'
import { newSeed, ConfigError } from './files.ts'
import { runDevnetCli } from './devnet-cli.ts'
import { GossipsubInternalsError } from '../peer/gossipsub-internals.ts'
import { HELP, COMMAND_HELP } from './help.ts'
import { fail, runNodeCommand } from './node-command.ts'
import { runHost } from './host.ts'


async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP)
    return
  }
  if ((rest.includes('--help') || rest.includes('-h')) && command !== 'launch-test') {
    const h = COMMAND_HELP[command]
    if (h === undefined) fail(`unknown command '${command}'\n\n${HELP}`)
    process.stdout.write(h)
    return
  }
  switch (command) {
    case 'keygen': {
      const seed = newSeed()
      process.stdout.write(JSON.stringify({ seed: toHex(seed), publicKey: toHex(createNodeSigner(seed).publicKey) }) + '\n')
      return
    }
    case 'devnet':
      await runDevnetCli(rest)
      return
    case 'launch-test': {
      const { runLaunchTestCli } = await import('./launch-test.ts')
      await runLaunchTestCli(rest)
      return
    }
    case 'bootstrap':
    case 'validator':
    case 'release':
      await runNodeCommand(command, rest)
      return
    case 'host':
      await runHost(rest)
      return
    default:
      fail(`unknown command '${command}'\n\n${HELP}`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // Exit 2 only for our own coded start-up refusals: a system error (EADDRINUSE…) keeps exit 1, which a
  // supervisor restarts (deploy/*.service: RestartPreventExitStatus=2).
  if (err instanceof ConfigError || err instanceof GossipsubInternalsError) fail(`${err.code}: ${err.message}`)
  if (err instanceof Error && err.name === 'TypeError' && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) fail(`${err.message} (see --help)`)
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err), 1)
})
