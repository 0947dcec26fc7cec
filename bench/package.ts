/**
 * Package benchmarks (sizes; deterministic, so one run each), on the real tarball and a real consumer build:
 *   package-tarball          `npm pack` of the repository: compressed size            ceiling <= 1,024 KB
 *   consumer-worker-brotli   the worker file in a Vite consumer's build of the
 *                            installed tarball, zlib brotli (quality 11); beside it
 *                            the package's own prebuilt peer.worker.js, same codec      target <= 160 KB
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
      return [
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
