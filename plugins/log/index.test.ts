import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestAjv, loadAction, makeBatch, makeEvent, recordingLogger } from '../../test/helpers/events.js';
import { log } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const nextFile = () => join(dir, `sub-${++n}`, 'events.log');
const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('log options schema', () => {
  const validate = createTestAjv().compile(log.options);

  it('fills defaults', () => {
    const o: Record<string, unknown> = {};
    expect(validate(o)).toBe(true);
    expect(o).toEqual({ message: '{{ event.type }} {{ event.id }}', level: 'info', payload: false });
  });

  it('rejects unknown options, bad levels and fields that shadow the line', () => {
    expect(validate({ mesage: 'x' })).toBe(false);
    expect(validate({ level: 'trace' })).toBe(false);
    expect(validate({ fields: { time: 'x' } })).toBe(false);
    expect(validate({ fields: { nested: { a: 1 } } })).toBe(false);
    expect(validate({ fields: { team: 'ops', priority: 2, page: true } })).toBe(true);
  });
});

describe('log to a file', () => {
  it('appends one JSON line per delivery with the rendered message and fields', async () => {
    const file = nextFile();
    const action = await loadAction(log, { file, fields: { doc: '{{ payload.data.document.id }}', team: 'ops' } }, 'audit');
    const event = makeEvent({ payload: { data: { document: { id: 'doc_9' } } } });
    await action.run(event);
    await action.run(makeEvent({ type: 'document.failed' }));

    const [first, second] = lines(file);
    expect(first).toMatchObject({
      level: 'info',
      action: 'audit',
      event: { id: event.id, type: 'document.processed', source: 'archivus', receivedAt: '2024-01-02T03:04:05.000Z' },
      message: `document.processed ${event.id}`,
      doc: 'doc_9',
      team: 'ops',
    });
    expect(Date.parse(String(first?.time))).not.toBeNaN();
    expect(first).not.toHaveProperty('payload');
    expect(second?.event).toMatchObject({ type: 'document.failed' });
  });

  it('includes the payload when asked', async () => {
    const file = nextFile();
    const action = await loadAction(log, { file, payload: true, level: 'warn' });
    await action.run(makeEvent({ payload: { a: [1, 2] } }));
    expect(lines(file)[0]).toMatchObject({ level: 'warn', payload: { a: [1, 2] } });
  });

  it('writes a batch as one line listing every event, oldest first', async () => {
    const file = nextFile();
    const action = await loadAction(log, { file, message: '{{ events | size }} events', payload: true });
    const batch = makeBatch(3, (i) => ({ payload: { i } }));
    await action.run(batch);
    const all = lines(file);
    expect(all).toHaveLength(1);
    expect(all[0]?.message).toBe('3 events');
    expect(all[0]?.events).toEqual(batch.map((e) => expect.objectContaining({ id: e.id, payload: e.payload })));
  });

  it('has every line on disk when its delivery resolves, even with many at once', async () => {
    const file = nextFile();
    const a = await loadAction(log, { file }, 'a');
    const b = await loadAction(log, { file }, 'b');
    await Promise.all(Array.from({ length: 500 }, (_, i) => (i % 2 ? a : b).run(makeEvent())));
    const all = lines(file);
    expect(all).toHaveLength(500);
    expect(all.filter((l) => l.action === 'a')).toHaveLength(250);
  });

  it('rejects the config when the file cannot be opened', async () => {
    await expect(loadAction(log, { file: '/dev/null/events.log' })).rejects.toThrow();
  });
});

describe('log to the logger', () => {
  it('logs at the chosen level with the message and fields', async () => {
    const action = await loadAction(log, { level: 'error', fields: { id: '{{ event.id }}' } }, 'audit');
    const logger = recordingLogger();
    const event = makeEvent();
    await action.run(event, { logger });
    expect(logger.records).toEqual([
      {
        level: 'error',
        msg: `document.processed ${event.id}`,
        obj: expect.objectContaining({ id: event.id, event: expect.objectContaining({ id: event.id }) }),
      },
    ]);
  });
});
