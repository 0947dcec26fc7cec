/** Bounded polling for tests whose condition follows from many events at once (no event to await). */

/** Polls `pred` every `intervalMs` until it holds; throws once `timeoutMs` has passed without it. */
export async function waitUntil (what: string, pred: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs)) // poll interval
  }
}
