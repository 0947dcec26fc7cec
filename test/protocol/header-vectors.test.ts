/**
 * Golden vectors for the header with its reveal bitset, the reveals a block carries and the registry
 * charge of a member that committed and withheld its reveal (test/vectors/header.json, built by
 * test/vectors/build-header.ts): the current code and the independent reference (test/vectors/reference.ts)
 * must both reproduce them.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  HEADER_SIZE, SIGNATURES_REQUIRED, computeBlockHash, computeQuorum, computeRandomValue, decodeBlock, decodeHeader, encodeHeader,
  fromHex, popcount, toHex
} from '../../src/protocol/index.ts'
import { registryFromJson, toJson, twentyRecords } from '../vectors/build.ts'
import type { RecordJson } from '../vectors/build.ts'
import { TRANSITION_INPUTS, buildHeaderVectors, headerFromJson, headerToJson } from '../vectors/build-header.ts'
import type { HeaderVectors } from '../vectors/build-header.ts'
import { refApply, refHeader, refQuorum, refRegistryRoot, tagged } from '../vectors/reference.ts'

const headerText = readFileSync(new URL('../vectors/header.json', import.meta.url), 'utf8')
const headerFile = JSON.parse(headerText) as HeaderVectors

/** §11 from the reference, for a quorum at `height` with some `missed` counters set before the block. */
function refTransition (records: RecordJson[], height: number, validators: string[], bitset: number, revealBitset: number, missedBefore: Record<string, number>): { missedAfter: Array<number | null>, root: string } {
  const before = records.map((r) => {
    const p = validators.indexOf(r.publicKey)
    return p >= 0 && missedBefore[String(p)] !== undefined ? { ...r, missed: missedBefore[String(p)]! } : r
  })
  const after = refApply({ name: '', preset: 'devnet', height, before, rootBefore: '', producer: '', validators, bitset, revealBitset, registrations: [], queueHead: '', after: [], rootAfter: '' })
  return { missedAfter: validators.map((k) => after.find((r) => r.publicKey === k)?.missed ?? null), root: refRegistryRoot(after) }
}

describe('header vectors (test/vectors/header.json)', () => {
  test('the file is exactly what the generator writes today', () => {
    assert.equal(headerText, toJson(buildHeaderVectors()), 'header.json is stale or the header/registry rules changed: run test/vectors/generate.ts only if intended')
  })

  test('headers: the code and the documented layout give the same bytes, hash, random value and block', () => {
    assert.equal(headerFile.headers.length, 3)
    for (const c of headerFile.headers) {
      const bytes = fromHex(c.encoded)
      assert.equal(bytes.length, HEADER_SIZE)
      assert.equal(HEADER_SIZE, 230)
      // The current code.
      const h = decodeHeader(bytes)
      assert.deepEqual(headerToJson(h), c.header, c.name)
      assert.equal(toHex(encodeHeader(headerFromJson(c.header))), c.encoded)
      assert.equal(toHex(computeBlockHash(h)), c.hash)
      assert.equal(toHex(computeRandomValue(c.reveals.map(fromHex))), c.header.randomValue)
      const block = decodeBlock(fromHex(c.block))
      assert.deepEqual(block.reveals.map(toHex), c.reveals)
      // The independent reference.
      assert.equal(refHeader(c.header).toString('hex'), c.encoded, `${c.name}: header layout`)
      assert.equal(toHex(tagged('lightpulse/v1/block', refHeader(c.header))), c.hash)
      assert.equal(toHex(tagged('lightpulse/v1/random', ...c.reveals.map((r) => Buffer.from(r, 'hex')))), c.header.randomValue)
      const refBlock = Buffer.concat([refHeader(c.header), Buffer.from([0, 0, 0, 0, c.reveals.length]), ...c.reveals.map((r) => Buffer.from(r, 'hex'))])
      assert.equal(refBlock.toString('hex'), c.block, `${c.name}: block with no txs, signatures or cert, then the reveals`)
      // The validity properties every case must have.
      assert.equal(c.header.revealBitset & ~c.header.bitset, 0, 'reveal bitset within the commit bitset')
      assert.ok(popcount(c.header.revealBitset) >= SIGNATURES_REQUIRED)
      assert.equal(c.reveals.length, popcount(c.header.revealBitset))
    }
    const [all, silent] = headerFile.headers
    assert.equal(all!.header.bitset, silent!.header.bitset)
    assert.notEqual(all!.header.revealBitset, silent!.header.revealBitset, 'a case with a committed member that did not reveal')
    assert.equal(popcount(headerFile.headers[2]!.header.revealBitset), SIGNATURES_REQUIRED, 'a case with exactly 7 reveals')
  })

  test('registry transition: a silent committer is charged like an absent one; served only in the reveal bitset', () => {
    const t = headerFile.transition
    const records = twentyRecords()
    const q = computeQuorum(registryFromJson(records), new Uint8Array(32), t.height, fromHex(t.entropy), t.round)
    assert.deepEqual(q.validators.map(toHex), t.validators)
    assert.deepEqual(refQuorum(records, t.height, fromHex(t.entropy), t.round), { producer: t.producer, validators: t.validators })
    assert.equal(t.cases.length, TRANSITION_INPUTS.length)
    for (const c of t.cases) {
      const ref = refTransition(records, t.height, t.validators, c.bitset, c.revealBitset, c.missedBefore)
      assert.deepEqual(ref.missedAfter, c.missedAfter, c.name)
      assert.equal(ref.root, c.registryRoot, c.name)
    }
    const [all, silent, absent, mixed, removed] = t.cases as [typeof t.cases[number], typeof t.cases[number], typeof t.cases[number], typeof t.cases[number], typeof t.cases[number]]
    assert.equal(silent.missedAfter[3], all.missedAfter[3]! + 2, 'served -1 vs missed +1 (from the same counter)')
    assert.equal(silent.registryRoot, absent.registryRoot, 'committing without revealing counts as not taking part')
    assert.notEqual(silent.bitset, absent.bitset)
    assert.deepEqual(silent.missedAfter.filter((_, p) => p !== 3), all.missedAfter.filter((_, p) => p !== 3))
    assert.ok(mixed.missedAfter[5]! > all.missedAfter[5]! && mixed.missedAfter[9]! > all.missedAfter[9]!)
    assert.equal(removed.missedAfter[3], null, 'removed on reaching maxMissed')
  })
})
