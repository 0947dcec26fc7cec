/**
 * `<lightpulse-status>`: a drop-in status badge for a dApp page. Give it a client (`el.client = client`) and it
 * shows, from that client's own peer: the verified height and its age, the signers of the head block, the peer
 * count, and whether it is verified, syncing, behind, offline or waiting for genesis. No framework: a custom
 * element with a shadow root, themed through CSS custom properties (--lightpulse-*) and parts
 * (::part(state), ::part(height), ::part(age), ::part(signers), ::part(peers), ::part(root)).
 */
import type { LightpulseClient } from '../client/client.ts'
import type { ClientEvent, StatusSnapshot } from '../client/types.ts'
import { widgetView } from './view.ts'

const STYLE = `
:host { display: inline-block; font: var(--lightpulse-font, 13px/1.3 system-ui, sans-serif); color: var(--lightpulse-fg, #1d2433); }
[part=root] { display: inline-flex; flex-wrap: wrap; align-items: center; gap: .35em .6em; padding: .35em .7em; border-radius: var(--lightpulse-radius, 999px);
  background: var(--lightpulse-bg, #f2f4f8); border: 1px solid var(--lightpulse-border, #d8dde6); max-width: 100%; box-sizing: border-box; }
[part=state] { font-weight: 600; padding: .05em .55em; border-radius: 999px; color: #fff; background: var(--lightpulse-muted, #7a8396); }
[data-state=verified] [part=state] { background: var(--lightpulse-ok, #1f8a4c); }
[data-state=syncing] [part=state], [data-state=starting] [part=state] { background: var(--lightpulse-accent, #2f6fde); }
[data-state=behind] [part=state], [data-state=locked] [part=state] { background: var(--lightpulse-warn, #b7791f); }
[data-state=offline] [part=state] { background: var(--lightpulse-error, #c53030); }
[part=height] { font-variant-numeric: tabular-nums; font-weight: 600; }
[part=age], [part=signers], [part=peers] { color: var(--lightpulse-dim, #5b6475); white-space: nowrap; }
`

export class LightpulseStatusElement extends HTMLElement {
  private clientValue: LightpulseClient | undefined
  private status: StatusSnapshot | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private off: (() => Promise<void>) | undefined
  private readonly parts: Record<'root' | 'state' | 'height' | 'age' | 'signers' | 'peers', HTMLElement>

  constructor () {
    super()
    const root = this.attachShadow({ mode: 'open' })
    const style = document.createElement('style')
    style.textContent = STYLE
    const box = document.createElement('span')
    box.setAttribute('part', 'root')
    box.setAttribute('role', 'status')
    box.setAttribute('aria-live', 'polite')
    const part = (name: string): HTMLElement => { const e = document.createElement('span'); e.setAttribute('part', name); box.append(e); return e }
    this.parts = { root: box, state: part('state'), height: part('height'), age: part('age'), signers: part('signers'), peers: part('peers') }
    root.append(style, box)
    this.render()
  }

  /** The client whose peer this element shows. Setting it (re)subscribes. */
  get client (): LightpulseClient | undefined { return this.clientValue }
  set client (c: LightpulseClient | undefined) {
    this.detach()
    this.clientValue = c
    if (this.isConnected) this.attach()
  }

  connectedCallback (): void { this.attach() }
  disconnectedCallback (): void { this.detach() }

  private attach (): void {
    const c = this.clientValue
    if (c === undefined || this.timer !== undefined) return
    const refresh = (): void => { c.status().then((s) => { this.status = s; this.render() }, () => { this.render() }) }
    // Events make it prompt; the 1 s poll keeps the age current and catches what no event announces.
    c.on((e: ClientEvent) => { if (e.type === 'block' || e.type === 'sync' || e.type === 'genesis' || e.type === 'error') refresh() })
      .then((off) => { if (this.clientValue === c && this.timer !== undefined) this.off = off; else void off() }, () => {})
    this.timer = setInterval(refresh, 1_000)
    refresh()
  }

  private detach (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    void this.off?.()
    this.off = undefined
  }

  private render (): void {
    const v = widgetView(this.status, Date.now())
    this.parts.root.dataset.state = v.state
    this.parts.state.textContent = v.label
    this.parts.height.textContent = v.height
    this.parts.age.textContent = v.age
    this.parts.signers.textContent = v.signers
    this.parts.peers.textContent = v.peers
    this.parts.root.title = v.state === 'behind' && this.status?.staleSince !== undefined
      ? `No newer verified block since ${new Date(this.status.staleSince).toLocaleTimeString()}`
      : `lightpulse light peer: ${v.label}`
  }
}

/** Defines `<lightpulse-status>` (or `name`) once; returns the element class. */
export function defineLightpulseStatus (name = 'lightpulse-status'): typeof LightpulseStatusElement {
  if (customElements.get(name) === undefined) customElements.define(name, class extends LightpulseStatusElement {})
  return LightpulseStatusElement
}
