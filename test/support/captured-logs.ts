import { Writable } from 'node:stream';
import pino from 'pino';

/** A pino logger whose JSON lines the test reads back, parsed, from `lines` (empty it between tests with `lines.length = 0`). */
export function capturedLogs<Line = Record<string, any>>(level = 'info') {
  const lines: Line[] = [];
  const stream = new Writable({
    write: (chunk, _e, done) => (
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l: string) => JSON.parse(l) as Line),
      ),
      done()
    ),
  });
  return { logger: pino({ level }, stream), lines };
}
