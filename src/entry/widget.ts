/**
 * `lightpulse/widget`: the `<lightpulse-status>` custom element. Importing this module defines it (where the
 * page has custom elements); `defineLightpulseStatus(name)` defines it under another name too.
 */
import { defineLightpulseStatus } from '../widget/status-element.ts'

export { LightpulseStatusElement, defineLightpulseStatus } from '../widget/status-element.ts'
export { widgetView } from '../widget/view.ts'
export type { WidgetState } from '../widget/view.ts'

if (typeof customElements !== 'undefined') defineLightpulseStatus()
