#!/usr/bin/env node
// The `lightpulse` command. An installed package runs the built CLI (dist/lib/node/cli.js) in this
// process; a source checkout runs src/node/cli.ts (Node.js strips the types), so it is never stale.
import { existsSync } from 'node:fs'

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`lightpulse needs Node.js 22.13 or later (this is ${process.version}); install a current Node.js LTS and run it again.\n`)
  process.exit(1)
}

// node:sqlite is still marked experimental: keep its one-line warning off the operator's console and
// print every other warning as Node would.
process.removeAllListeners('warning')
process.on('warning', (w) => {
  if (w.name === 'ExperimentalWarning' && /SQLite/i.test(w.message)) return
  process.stderr.write(`${w.name}: ${w.message}\n`)
})

const built = new URL('../dist/lib/node/cli.js', import.meta.url)
const source = new URL('../src/node/cli.ts', import.meta.url)
if (existsSync(source)) await import(source.href)
else if (existsSync(built)) await import(built.href)
else {
  process.stderr.write('lightpulse: this package has no dist/lib/node/cli.js; run `npm run build` in a checkout, or reinstall the package\n')
  process.exit(1)
}
