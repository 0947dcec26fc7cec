/**
 * Package benchmarks (sizes; deterministic, so one run each), on the real tarball and a real consumer build:
 *   package-tarball          `npm pack` of the repository: compressed size            ceiling <= 1,024 KB
 *   consumer-worker-brotli   the worker file in a Vite consumer's build of the
 *                            installed tarball, zlib brotli (quality 11); beside it
 *                            the package's own prebuilt peer.worker.js, same codec      target <= 160 KB
 *   widget-brotli            `lightpulse/widget` bundled alone (esbuild, minified) from the installed
 *                            package, brotli; beside it the client entry `lightpulse` alone    target <= 6 KB
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { brotliCompressSync, constants as zc } from 'node:zlib'
import { createConsumerProject, packTarball, viteWorkerFile } from '../test/consumer/consumer-project.ts'
import { entry, metric } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

const brotliKB = (bytes: Uint8Array): number => brotliCompressSync(bytes, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: bytes.length } }).length / 1024

export async function runPackageBench (o: BenchOptions): Promise<Entry[]> {
  const dir = await mkdtemp(join(tmpdir(), 'lightpulse-bench-pack-'))
  try {
    const packed = await packTarball(dir)
    o.log(`  ${basename(packed.tarball)}: ${(packed.size / 1024).toFixed(1)} KB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KB unpacked, ${packed.files.length} files`)
    const project = await createConsumerProject(packed.tarball, (l) => { o.log(`  ${l}`) })
    try {
      const consumerWorker = await readFile(await viteWorkerFile(project.viteOut))
      const shipped = await readFile(join(project.dir, 'node_modules', 'lightpulse', 'dist', 'lib', 'client', 'peer.worker.js'))
      const c = brotliKB(consumerWorker)
      const s = brotliKB(shipped)
      o.log(`  consumer worker ${(consumerWorker.length / 1024).toFixed(0)} KB minified, ${c.toFixed(1)} KB brotli; the package's peer.worker.js ${s.toFixed(1)} KB brotli`)
      const bundle = async (spec: string): Promise<Uint8Array> => {
        const esbuild = await import('esbuild')
        const r = await esbuild.build({ absWorkingDir: project.dir, stdin: { contents: `export * from '${spec}'`, resolveDir: project.dir }, bundle: true, format: 'esm', minify: true, write: false, target: 'es2022', logLevel: 'error' })
        return r.outputFiles[0]!.contents
      }
      const widget = await bundle('lightpulse/widget')
      const clientEntry = await bundle('lightpulse')
      const w = brotliKB(widget)
      o.log(`  lightpulse/widget ${(widget.length / 1024).toFixed(1)} KB minified, ${w.toFixed(2)} KB brotli; the client entry ${brotliKB(clientEntry).toFixed(1)} KB brotli`)
      return [
        entry('widget-brotli', metric([w], 'KB', 2), { op: '<=', value: 6 }, { minifiedKB: Math.round(widget.length / 102.4) / 10, referenceClientEntryBrotli: metric([brotliKB(clientEntry)], 'KB', 1) }),
        entry('package-tarball', metric([packed.size / 1024], 'KB', 1), { op: '<=', value: 1024 }, { unpackedKB: Math.round(packed.unpackedSize / 1024), files: packed.files.length }),
        entry('consumer-worker-brotli', metric([c], 'KB', 1), { op: '<=', value: 160 }, {
          minifiedKB: Math.round(consumerWorker.length / 1024),
          packageWorkerBrotli: metric([s], 'KB', 1)
        })
      ]
    } finally {
      await project.remove()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
