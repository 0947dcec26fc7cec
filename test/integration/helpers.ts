/** Runs the real `lightpulse` CLI as a user would and returns its exit code, JSON stdout and stderr. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../../src/node/cli.ts', import.meta.url))

export interface CliResult { code: number | null, stdout: string, stderr: string }

export async function runCli (args: string[], timeoutMs = 240_000): Promise<CliResult> {
  return await new Promise((resolve) => {
    const p = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { p.kill('SIGINT') }, timeoutMs)
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

export function lastJson<T> (stdout: string): T {
  const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{'))
  if (lines.length === 0) throw new Error(`no JSON on stdout: ${stdout.slice(0, 500)}`)
  return JSON.parse(lines[lines.length - 1]!) as T
}
