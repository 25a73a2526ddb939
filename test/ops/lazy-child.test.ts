import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LazyChild } from '../../src/log.js';

describe('LazyChild', () => {
  it('writes lines with its bindings, through nested children', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    new LazyChild(pino({ level: 'info' }, stream), { requestId: 'r1' }).child({ eventId: 'e1' }).info({ n: 1 }, 'hello');
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([expect.objectContaining({ requestId: 'r1', eventId: 'e1', n: 1, msg: 'hello' })]);
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
