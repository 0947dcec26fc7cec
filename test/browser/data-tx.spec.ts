/**
 * Data transactions end to end (issue 11), in real Chromium against the loopback devnet: one browser context
 * submits from its tab (the tab's own non-extractable data key) and waits for the verified inclusion; a second
 * context, another user with its own peer and store, reads the post from `client.transactions('board')` with
 * the proof its peer built from the block it verified, and checks the first one's inclusion with verifyProof;
 * tampered inclusions are refused with their codes, bad submissions too.
 */
import type { Page } from '@playwright/test'
import { netTest as test, expect, recordEvents, waitForStatus } from './fixtures/network.ts'
import type { TxEvent, TxInclusion, SubmittedTx } from '../../src/client/types.ts'

type Lp = {
  submit: (tag: string, payload: string | Uint8Array, o?: { expiresIn?: number }) => Promise<SubmittedTx>
  waitForInclusion: (h: string, o?: { timeout?: number }) => Promise<TxInclusion>
  verifyProof: (i: TxInclusion) => Promise<TxInclusion>
  transactions: (tag?: string) => AsyncIterableIterator<TxEvent>
}

async function open (page: Page, net: Parameters<Parameters<typeof test>[2]>[0]['net'], store: string): Promise<void> {
  await recordEvents(page)
  await page.goto(net.pageUrl(store))
  await waitForStatus(page, `a verified head in ${store}`, (s) => s.running && s.head !== undefined && net.isHonest(s.head.height, s.head.hash) && !s.sync.syncing, 60_000)
}

test('a post from one tab is included, and another user\'s tab reads it with a verified proof; forged inclusions are refused', async ({ browser, net }) => {
  test.setTimeout(180_000) // 2 x 60 s for the first heads, 60 s for the inclusion
  const writerCtx = await browser.newContext()
  const readerCtx = await browser.newContext()
  try {
    const writer = await writerCtx.newPage()
    const reader = await readerCtx.newPage()
    await open(writer, net, 'dapp-writer')
    await open(reader, net, 'dapp-reader')
    // The reader listens before the post is made.
    await reader.evaluate(() => {
      const w = globalThis as unknown as { lightpulse: Lp, __posts: TxEvent[] }
      w.__posts = []
      void (async () => { for await (const t of w.lightpulse.transactions('board')) w.__posts.push(t) })()
    })
    const posted = await writer.evaluate(async () => {
      const c = (globalThis as unknown as { lightpulse: Lp }).lightpulse
      const sub = await c.submit('board', 'hello from the writer\'s tab')
      const second = await c.submit('board', new Uint8Array([1, 2, 3]))
      const inc = await c.waitForInclusion(sub.txHash, { timeout: 60_000 })
      const bad = {
        tag: await c.submit('no spaces', 'x').then(() => 'ok', (e: { code?: string }) => e.code),
        payload: await c.submit('board', new Uint8Array(1025)).then(() => 'ok', (e: { code?: string }) => e.code),
        hash: await c.waitForInclusion('zz').then(() => 'ok', (e: { code?: string }) => e.code)
      }
      return { sub, second, inc, bad }
    })
    expect(posted.second.seq, 'the next sequence number').toBe(posted.sub.seq + 1)
    expect(posted.inc.txHash).toBe(posted.sub.txHash)
    expect(net.isHonest(posted.inc.height, posted.inc.blockHash), `block ${posted.inc.height} is the devnet's`).toBe(true)
    expect(posted.inc.data?.tag).toBe('board')
    expect(posted.inc.data?.sender).toBe(posted.sub.sender)
    expect(posted.bad).toEqual({ tag: 'TX_INVALID', payload: 'TX_INVALID', hash: 'CONFIG_INVALID' })

    // The reader's own peer verified that block and saw the post in it.
    await expect.poll(async () => await reader.evaluate(() => (globalThis as unknown as { __posts: TxEvent[] }).__posts.map((p) => p.inclusion.txHash)), {
      message: 'the post reaches the reader\'s transactions() stream', timeout: 30_000
    }).toContain(posted.sub.txHash)
    const checked = await reader.evaluate(async (inc) => {
      const w = globalThis as unknown as { lightpulse: Lp, __posts: TxEvent[] }
      const post = w.__posts.find((p) => p.inclusion.txHash === inc.txHash)!
      const text = new TextDecoder().decode(post.payload)
      const mine = await w.lightpulse.verifyProof(inc)
      const code = async (i: TxInclusion): Promise<string> => await w.lightpulse.verifyProof(i).then(() => 'ok', (e: { code?: string }) => e.code ?? String(e))
      // The payload's last byte changed inside the transaction bytes: no longer the hash it claims.
      const forgedTx = { ...inc, tx: inc.tx.slice(0, -130) + (inc.tx.slice(-130, -128) === '00' ? '01' : '00') + inc.tx.slice(-128) }
      const otherBlock = { ...inc, blockHash: 'ab'.repeat(32) }
      const wrongPath = { ...inc, proof: inc.proof.slice(0, -2) + (inc.proof.slice(-2) === '00' ? '01' : '00') }
      return {
        text, sameBlock: post.inclusion.blockHash === inc.blockHash, mine: mine.height,
        forgedTx: await code(forgedTx), otherBlock: await code(otherBlock), wrongPath: await code(wrongPath), garbage: await code({ ...inc, tx: 'zz' })
      }
    }, posted.inc)
    expect(checked.text).toBe('hello from the writer\'s tab')
    expect(checked.sameBlock, 'the reader\'s proof names the same block').toBe(true)
    expect(checked.mine).toBe(posted.inc.height)
    expect(checked.forgedTx).toBe('PROOF_INVALID')
    expect(checked.otherBlock).toBe('HEADER_MISMATCH')
    expect(checked.wrongPath).toBe('PROOF_INVALID')
    expect(checked.garbage).toBe('PROOF_INVALID')
  } finally {
    await writerCtx.close()
    await readerCtx.close()
  }
})
