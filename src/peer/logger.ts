/** Injected, namespaced logger. Nothing in src/ writes to the console directly. */
export interface Logger {
  info: (msg: string, fields?: Record<string, unknown>) => void
  warn: (msg: string, fields?: Record<string, unknown>) => void
  error: (msg: string, fields?: Record<string, unknown>) => void
  debug: (msg: string, fields?: Record<string, unknown>) => void
  forComponent: (name: string) => Logger
}

export type LogSink = (level: 'debug' | 'info' | 'warn' | 'error', component: string, msg: string, fields?: Record<string, unknown>) => void

export function createLogger (component: string, sink: LogSink): Logger {
  return {
    info: (m, f) => { sink('info', component, m, f) },
    warn: (m, f) => { sink('warn', component, m, f) },
    error: (m, f) => { sink('error', component, m, f) },
    debug: (m, f) => { sink('debug', component, m, f) },
    forComponent: (name) => createLogger(`${component}:${name}`, sink)
  }
}

export const silentLogger: Logger = createLogger('lightpulse', () => {})
