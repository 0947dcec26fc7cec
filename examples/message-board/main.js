// A message board on lightpulse: posts are data transactions (tag "board"); every reader's own light peer
// verifies the block that carries a post and its inclusion proof before the post is shown as verified.
import { createLightpulseClient } from 'lightpulse'
import 'lightpulse/widget'

const TAG = 'board'
const $ = (id) => document.getElementById(id)
const client = createLightpulseClient()
$('status').client = client
window.board = { client, posts: [], errors: [] }

const params = new URLSearchParams(location.search)
// The network to join: the devnet's /config.json (`npm start` serves it; the Vite dev server proxies it).
const config = await (await fetch(params.get('config') ?? './config.json')).json()
if (params.get('store') !== null) config.storeName = params.get('store')

const short = (hex) => `${hex.slice(0, 8)}…`
const text = (bytes) => new TextDecoder().decode(bytes)

function showPost (p, { linked = false } = {}) {
  const li = document.createElement(linked ? 'div' : 'li')
  li.dataset.tx = p.inclusion.txHash
  const body = document.createElement('div')
  body.className = 'body'
  body.textContent = text(p.payload)
  const meta = document.createElement('div')
  meta.className = 'meta'
  const check = document.createElement('span')
  check.className = 'checking'
  check.textContent = 'checking proof…'
  const link = document.createElement('a')
  link.href = `#tx=${p.inclusion.txHash}`
  link.textContent = 'link'
  meta.append(`by ${short(p.sender)}`, ` · block #${p.inclusion.height}`, check, link)
  li.append(body, meta)
  if (linked) $('lookup-result').replaceChildren(li)
  else { $('posts').prepend(li); $('empty').hidden = true }
  return check
}

/** Shows the post as verified only once this tab's peer has checked its proof against the header it verified. */
async function verify (p, check) {
  try {
    const v = await client.verifyProof(p.inclusion)
    check.className = 'verified'
    check.textContent = `✓ verified in block #${v.height}`
  } catch (err) {
    check.className = 'error'
    check.textContent = `not verified: ${err.code}`
    window.board.errors.push(err.code)
  }
}

async function read () {
  for await (const t of client.transactions(TAG)) {
    window.board.posts.push(t)
    void verify(t, showPost(t))
  }
}

/** A post linked by its hash (#tx=…): its proof is asked of the connected peers and checked here. */
async function lookup () {
  const m = /tx=([0-9a-f]{64})/.exec(location.hash)
  if (m === null) return
  $('lookup').hidden = false
  $('lookup-result').className = ''
  $('lookup-result').textContent = 'asking peers for the post and its proof…'
  try {
    // Ask once a peer is connected (bounded): right after start the first dial may still be in flight.
    for (let i = 0; i < 50 && (await client.status()).connections.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 200))
    const inc = await client.getProof(m[1])
    if (inc.data?.tag !== TAG) throw Object.assign(new Error('not a board post'), { code: 'NOT_A_POST' })
    const check = showPost({ ...inc.data, inclusion: inc }, { linked: true })
    await verify({ inclusion: inc }, check)
  } catch (err) {
    $('lookup-result').className = 'error'
    $('lookup-result').textContent = `That post could not be verified: ${err.code ?? err.message}`
  }
}

$('compose').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const status = $('compose-status')
  const value = $('text').value.trim()
  if (value === '') return
  $('post').disabled = true
  status.className = ''
  status.textContent = 'signing and sending…'
  try {
    const sub = await client.submit(TAG, value)
    status.textContent = `sent (${short(sub.txHash)}); waiting for a verified block…`
    const inc = await client.waitForInclusion(sub.txHash, { timeout: 120_000 })
    status.textContent = `✓ included in block #${inc.height}`
    $('text').value = ''
  } catch (err) {
    status.className = 'error'
    status.textContent = err.code === 'NO_PEERS'
      ? 'Not connected to any peer yet: nothing was sent. Try again in a moment.'
      : `Could not post: ${err.code ?? ''} ${err.message}`
    window.board.errors.push(err.code)
  } finally {
    $('post').disabled = false
  }
})

await client.start(config)
void read()
window.addEventListener('hashchange', () => { void lookup() })
void lookup()
window.board.started = true
