// The group commit's deadline: a flush that hangs fails its callers with
// StoreTimeoutError instead of holding them (and every later call) forever.

import { describe, expect, it } from 'vitest';

import { GroupCommit } from '../../src/queue/group-commit.js';
import { StoreTimeoutError } from '../../src/queue/timeout.js';

describe('GroupCommit with a timeout', () => {
  it('fails a hung group at its deadline, tells the flush the deadline, and commits the next group', async () => {
    const deadlines: Array<number | undefined> = [];
    let hang = true;
    const commit = new GroupCommit<string, string>(
      (items, deadline) => {
        deadlines.push(deadline);
        return hang ? new Promise<string[]>(() => {}) : Promise.resolve(items.map((i) => `ok:${i}`));
      },
      { timeoutMs: 50 },
    );
    const submittedAt = Date.now();
    const stuck = await Promise.allSettled([commit.submit('a'), commit.submit('b')]);
    expect(stuck.map((s) => (s.status === 'rejected' ? (s.reason as Error).constructor : s.value))).toEqual([StoreTimeoutError, StoreTimeoutError]);
    // One flush for the group (no one-by-one retry of a timeout), bounded by the oldest call's deadline.
    expect(deadlines).toHaveLength(1);
    expect(deadlines[0]).toBeGreaterThanOrEqual(submittedAt + 50);

    hang = false;
    expect(await commit.submit('c')).toBe('ok:c');
    await commit.idle();
  });

  it('fails calls that waited in the queue past their deadline without writing them', async () => {
    const flushed: string[][] = [];
    let queued: Promise<string> | undefined;
    const commit = new GroupCommit<string, string>(
      (items) => {
        flushed.push(items);
        if (queued === undefined) {
          // Arrives while this flush runs, which then blocks the thread (as a
          // synchronous SQLite commit on a stuck disk would) past the timeout.
          queued = commit.submit('queued');
          const until = Date.now() + 60;
          while (Date.now() < until);
        }
        return Promise.resolve(items);
      },
      { timeoutMs: 50 },
    );
    expect(await commit.submit('first')).toBe('first');
    await expect(queued).rejects.toBeInstanceOf(StoreTimeoutError);
    expect(flushed).toEqual([['first']]);
  });

  it('without a timeout, flushes get no deadline', async () => {
    const deadlines: Array<number | undefined> = [];
    const commit = new GroupCommit<number, number>(async (items, deadline) => {
      deadlines.push(deadline);
      return items;
    });
    expect(await commit.submit(1)).toBe(1);
    expect(deadlines).toEqual([undefined]);
  });
});
