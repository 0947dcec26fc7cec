import { Devnet } from '../src/node/devnet.ts'
const d = new Devnet({ validators: 16, log: () => {}, validatorArgs: (process.env.VARGS ?? '').split(' ').filter(Boolean) })
await d.start()
await d.runUntil(20, 30000)
// for producer events: stage times relative to round start (timestamp = block ts)
const byKey = new Map<string, any[]>()
for (const e of d.roundEvents) { const k = `${e.height}/${e.round}`; if (!byKey.has(k)) byKey.set(k, []); byKey.get(k)!.push(e) }
for (const [k, evs] of [...byKey].slice(-12)) {
  const rec = d.blocks.get(Number(k.split('/')[0]))
  const ts = rec?.timestamp ?? 0
  const prod = evs.filter((e) => e.role === 'producer').map((e) => `${e.stage}@${e.at - ts}(c${e.commits} r${e.reveals} s${e.signatures})`)
  const val = evs.filter((e) => e.role === 'validator' && e.stage === 'commit').map((e) => e.at - ts)
  const rev = evs.filter((e) => e.role === 'validator' && e.stage === 'reveal').map((e) => e.at - ts)
  console.log(k, 'blockround', rec?.round, 'P:', prod.join(' '), '| commit starts', Math.min(...val), Math.max(...val), '| reveals', Math.min(...rev), Math.max(...rev))
}
console.log(JSON.stringify({ ...d.summary(), validators: undefined }))
await d.stop()
