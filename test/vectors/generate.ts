/**
 * Regenerates the golden vectors. Run manually, and only when a selection, PRNG, header or registry rule changes on
 * purpose (every implementation must then change too):
 *   node_modules/.bin/node test/vectors/generate.ts
 * test/protocol/vectors.test.ts fails whenever the code no longer reproduces these files.
 */
import { writeFileSync } from 'node:fs'
import { buildBlockVectors, buildPrngVectors, buildQuorumVectors, toJson } from './build.ts'

const dir = new URL('.', import.meta.url)
writeFileSync(new URL('prng.json', dir), toJson(buildPrngVectors()))
writeFileSync(new URL('quorum.json', dir), toJson(buildQuorumVectors()))
writeFileSync(new URL('block.json', dir), toJson(buildBlockVectors()))
console.log('wrote test/vectors/prng.json, quorum.json and block.json')
