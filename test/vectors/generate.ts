/**
 * Regenerates the golden vectors. Run manually, and only when a selection, PRNG, header, block, registry or Merkle rule changes on
 * purpose (every implementation must then change too):
 *   node_modules/.bin/node test/vectors/generate.ts
 * test/protocol/vectors.test.ts fails whenever the code no longer reproduces these files.
 */
import { writeFileSync } from 'node:fs'
import { buildBlockVectors, buildPrngVectors, buildQuorumVectors, buildRegistryTransitionVectors, toJson } from './build.ts'
import { buildHeaderVectors } from './build-header.ts'
import { buildMerkleVectors } from './build-merkle.ts'

const dir = new URL('.', import.meta.url)
writeFileSync(new URL('prng.json', dir), toJson(buildPrngVectors()))
writeFileSync(new URL('quorum.json', dir), toJson(buildQuorumVectors()))
writeFileSync(new URL('blocks.json', dir), toJson(await buildBlockVectors()))
writeFileSync(new URL('registry.json', dir), toJson(buildRegistryTransitionVectors()))
writeFileSync(new URL('header.json', dir), toJson(buildHeaderVectors()))
writeFileSync(new URL('merkle.json', dir), toJson(buildMerkleVectors()))
console.log('wrote test/vectors/prng.json, quorum.json, blocks.json, registry.json, header.json and merkle.json')
