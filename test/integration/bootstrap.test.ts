/**
 * A bootstrap as an operator runs it: listens on TCP, WebSockets and WebRTC-direct, and keeps its peer id
 * and WebRTC-direct certhash across a restart (so the addresses it publishes stay valid).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI } from './helpers.ts'
import { createTestNetwork } from '../helpers/chain-builder.ts'
import { networkToFile } from '../../src/peer/network-file.ts'

async function startBootstrap (args: string[]): Promise<{ ready: { peerId: string, addrs: string[] }, stop: () => Promise<number | null> }> {
  const p = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', CLI, 'bootstrap', ...args, '--events'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const ready = await new Promise<{ peerId: string, addrs: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('bootstrap did not report ready within 30 s')) }, 30_000)
    createInterface({ input: p.stdout }).on('line', (line) => {
      stderr += `[out] ${line.slice(0, 100)}\n`
      const ev = JSON.parse(line) as { ev: string, peerId: string, addrs: string[] }
      if (ev.ev === 'ready') { clearTimeout(timer); resolve(ev) }
    })
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`bootstrap exited early (${code})`)) })
  })
  return {
    ready,
    stop: async () => await new Promise((resolve) => { p.once('exit', (code, signal) => { if (code !== 0) process.stderr.write(`bootstrap exit ${code} ${signal}\n${stderr}\n`); resolve(code) }); p.kill('SIGTERM') })
  }
}

test('bootstrap: TCP, WebSockets, WebRTC-direct and WebTransport listeners; peer id and certhashes stable across restarts; graceful SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lightpulse-bootstrap-'))
  try {
    const net = createTestNetwork({ validators: 12 })
    const networkFile = join(dir, 'network.json')
    await writeFile(networkFile, JSON.stringify(networkToFile(net.config)))
    const args = ['--network', networkFile, '--data', join(dir, 'boot')]
    const first = await startBootstrap(args)
    const kinds = (addrs: string[]): string[] => addrs.map((a) => a.includes('/webrtc-direct') ? 'webrtc-direct' : a.includes('/webtransport') ? 'webtransport' : a.includes('/ws') ? 'ws' : 'tcp').sort()
    assert.deepEqual(kinds(first.ready.addrs), ['tcp', 'webrtc-direct', 'webtransport', 'ws'], 'WebTransport too (Deno is a dev dependency)')
    const wt = (addrs: string[]): string => addrs.find((a) => a.includes('/webtransport'))!.replace(/\/udp\/\d+\//, '/udp/PORT/')
    const certhash = (addrs: string[]): string => /\/certhash\/([^/]+)/.exec(addrs.find((a) => a.includes('/webrtc-direct'))!)![1]!
    const hash1 = certhash(first.ready.addrs)
    assert.equal(await first.stop(), 0, 'SIGTERM shuts down cleanly with exit code 0')

    const second = await startBootstrap(args)
    assert.equal(second.ready.peerId, first.ready.peerId, 'peer id kept in the data directory')
    assert.equal(certhash(second.ready.addrs), hash1, 'WebRTC-direct certificate kept in the data directory')
    assert.equal(wt(second.ready.addrs), wt(first.ready.addrs), 'WebTransport certhashes kept in the data directory')
    assert.equal(await second.stop(), 0)

    const other = await startBootstrap(['--network', networkFile, '--data', join(dir, 'other')])
    assert.notEqual(other.ready.peerId, first.ready.peerId, 'a different data directory is a different identity')
    assert.notEqual(certhash(other.ready.addrs), hash1)
    await other.stop()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
