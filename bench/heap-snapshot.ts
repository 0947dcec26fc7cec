/**
 * Heap snapshots of a running node process, summarised by cause: what the live objects are (the
 * constructor name of an object, or V8's kind for strings, arrays, closures, code...), how many and how
 * many bytes (self size, as DevTools' "Summary" view shows them). Two summaries diffed give what grew.
 *
 * The node must run with `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR`: SIGUSR2 makes it write a
 * snapshot (after a full GC, so only live objects) into DIR; this waits until the file is complete.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface HeapCause { count: number, bytes: number }
export type HeapSummary = Map<string, HeapCause>

interface Snapshot {
  snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

/** The summary of one snapshot file (the V8 .heapsnapshot JSON). */
export function summarize (json: string): HeapSummary {
  const s = JSON.parse(json) as Snapshot
  const fields = s.snapshot.meta.node_fields
  const types = s.snapshot.meta.node_types[0]
  const width = fields.length
  const fType = fields.indexOf('type')
  const fName = fields.indexOf('name')
  const fSize = fields.indexOf('self_size')
  const out: HeapSummary = new Map()
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + fType]!] ?? 'unknown'
    if (type === 'hidden' || type === 'synthetic') continue
    const cause = type === 'object' || type === 'native' ? (s.strings[s.nodes[i + fName]!] ?? '?') : `(${type})`
    const c = out.get(cause)
    if (c === undefined) out.set(cause, { count: 1, bytes: s.nodes[i + fSize]! })
    else { c.count++; c.bytes += s.nodes[i + fSize]! }
  }
  return out
}

/** Total self size of a summary, bytes. */
export function totalBytes (h: HeapSummary): number {
  let n = 0
  for (const c of h.values()) n += c.bytes
  return n
}

/** The `top` causes that grew most from `a` to `b`, by bytes. */
export function grewMost (a: HeapSummary, b: HeapSummary, top: number): Array<{ cause: string, count: number, bytes: number, countBefore: number, bytesBefore: number }> {
  const rows = [...b].map(([cause, c]) => ({ cause, count: c.count, bytes: c.bytes, countBefore: a.get(cause)?.count ?? 0, bytesBefore: a.get(cause)?.bytes ?? 0 }))
  return rows.sort((x, y) => (y.bytes - y.bytesBefore) - (x.bytes - x.bytesBefore)).slice(0, top)
}

/** Signals `pid` to write a heap snapshot into `dir`, waits (bounded, 120 s) for it, and returns its summary; the file is deleted. */
export async function snapshotOf (pid: number, dir: string): Promise<HeapSummary> {
  const before = new Set(await readdir(dir))
  process.kill(pid, 'SIGUSR2')
  let file: string | undefined
  let size = -1
  for (let i = 0; i < 240; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500)) // the node writes the file synchronously; poll until it stops growing
    file ??= (await readdir(dir)).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'))
    if (file === undefined) continue
    const now = (await stat(join(dir, file))).size
    if (now > 0 && now === size) {
      try {
        const summary = summarize(await readFile(join(dir, file), 'utf8'))
        await rm(join(dir, file), { force: true })
        return summary
      } catch { /* not complete yet */ }
    }
    size = now
  }
  throw new Error(`no complete heap snapshot from process ${pid} in 120 s`)
}
