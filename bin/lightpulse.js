#!/usr/bin/env node
// Runs the TypeScript CLI directly (Node >= 22.18 strips types natively).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
const cli = fileURLToPath(new URL('../src/node/cli.ts', import.meta.url))
const r = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', cli, ...process.argv.slice(2)], { stdio: 'inherit' })
process.exit(r.status ?? 1)
