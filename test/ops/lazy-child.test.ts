import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LazyChild, redactPaths } from '../../src/log.js';

/** A stream that keeps each JSON line written to it. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('LazyChild', () => {
  it('writes lines with its bindings, through nested children', async () => {
    const { lines, stream } = capture();
    new LazyChild(pino({ level: 'info' }, stream), { requestId: 'r1' }).child({ eventId: 'e1' }).info({ n: 1 }, 'hello');
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([expect.objectContaining({ requestId: 'r1', eventId: 'e1', n: 1, msg: 'hello' })]);
  });

  it('writes per-event info lines without the redaction pass, and still redacts warnings and errors', async () => {
    const { lines, stream } = capture();
    const root = pino({ level: 'info', redact: { paths: redactPaths, censor: '[redacted]' } }, stream);
    const log = new LazyChild(root, { deliveryId: 7 });
    // A nested `secret` is what the wildcard paths catch: on an info line it
    // passes through untouched, proof that no redaction walk ran.
    log.info({ data: { secret: 'plain' } }, 'delivered');
    log.warn({ data: { secret: 'hidden' } }, 'attempt failed');
    log.child({ eventId: 'e1' }).error({ secret: 'hidden' }, 'dead');
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([
      expect.objectContaining({ deliveryId: 7, data: { secret: 'plain' }, msg: 'delivered' }),
      expect.objectContaining({ deliveryId: 7, data: { secret: '[redacted]' }, msg: 'attempt failed' }),
      expect.objectContaining({ deliveryId: 7, eventId: 'e1', secret: '[redacted]', msg: 'dead' }),
    ]);
  });

  it('makes no real child for lines below the level', () => {
    const made: Array<Record<string, unknown>> = [];
    const written: string[] = [];
    const fake = {
      isLevelEnabled: (level: string) => level === 'warn' || level === 'error',
      child(bindings: Record<string, unknown>) {
        made.push(bindings);
        return fake;
      },
      debug: () => written.push('debug'),
      info: () => written.push('info'),
      warn: () => written.push('warn'),
      error: () => written.push('error'),
    };
    const log = new LazyChild(fake, { requestId: 'r1' });
    log.info({ n: 1 }, 'skipped');
    log.debug('skipped too');
    expect(made).toEqual([]);
    log.warn('written');
    log.error('written, same child');
    expect(made).toEqual([{ requestId: 'r1' }]);
    expect(written).toEqual(['warn', 'error']);
  });
});
