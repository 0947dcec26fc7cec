/** The worker entry: the whole peer runs here. Exposes the API synchronously (no top-level await). */
import { expose } from 'comlink'
import { registerErrorTransfer } from '../src/client/errors.ts'
import { createWorkerApi } from '../src/browser/worker-api.ts'

registerErrorTransfer()
expose(createWorkerApi())
