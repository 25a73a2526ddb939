// Group commit: calls submitted in the same event-loop turn, or while the
// previous group is committing, are written by one flush (one transaction)
// and each caller's promise settles after that commit. One commit per group
// instead of per call is what makes synchronous=FULL and PostgreSQL fast.
//
// With a timeout, every call has a deadline counted from its submission: a
// group whose flush has not committed by its oldest call's deadline fails
// with StoreTimeoutError (the flush is told the deadline so that the engine
// can discard the stuck connection), and calls still queued past their own
// deadline fail without being written. A hung database then costs callers a
// bounded wait instead of an unbounded one, and the next group starts anew.

import { beforeDeadline, StoreTimeoutError } from './timeout.js';

interface Waiting<I, O> {
  item: I;
  /** When it was submitted (ms since the epoch). */
  at: number;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
}

export interface GroupCommitOptions {
  /** Caps a group so one commit's latency stays bounded; default 1000. */
  maxGroup?: number;
  /** Longest a call may wait for its commit, in ms; none when unset. */
  timeoutMs?: number;
}

/**
 * Writes the items in one transaction and returns one result per item, in
 * order. `deadline` (ms since the epoch) is when the callers stop waiting.
 */
export type Flush<I, O> = (items: I[], deadline: number | undefined) => Promise<O[]>;

export class GroupCommit<I, O> {
  private queue: Array<Waiting<I, O>> = [];
  private active = false;
  private drained: Array<() => void> = [];
  private readonly maxGroup: number;
  private readonly timeoutMs: number | undefined;

  constructor(
    private readonly flush: Flush<I, O>,
    options: GroupCommitOptions = {},
  ) {
    this.maxGroup = options.maxGroup ?? 1000;
    this.timeoutMs = options.timeoutMs !== undefined && options.timeoutMs > 0 ? options.timeoutMs : undefined;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, at: Date.now(), resolve, reject });
      if (!this.active) {
        this.active = true;
        // setImmediate runs after the poll phase, so every request that
        // arrived in this turn is queued by then.
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Resolves once everything submitted so far has settled. */
  idle(): Promise<void> {
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.expire(this.queue.splice(0, this.maxGroup));
        if (group.length === 0) continue;
        const deadline = this.timeoutMs !== undefined ? (group[0]?.at ?? Date.now()) + this.timeoutMs : undefined;
        try {
          settle(group, await this.run(group, deadline));
        } catch (err) {
          // A timeout is the database's, not one item's: retrying items one by one would multiply the wait.
          if (group.length === 1 || err instanceof StoreTimeoutError) {
            for (const w of group) w.reject(err);
            continue;
          }
          // One bad item must not fail the others: commit each on its own.
          for (const w of group) {
            try {
              settle([w], await this.run([w], deadline));
            } catch (e) {
              w.reject(e);
            }
          }
        }
      }
    } finally {
      this.active = false;
      const drained = this.drained;
      this.drained = [];
      for (const resolve of drained) resolve();
    }
  }

  private run(group: Array<Waiting<I, O>>, deadline: number | undefined): Promise<O[]> {
    const work = this.flush(
      group.map((w) => w.item),
      deadline,
    );
    if (deadline === undefined) return work;
    // Abandoned past the deadline: the engine discards the connection it hangs on.
    work.catch(() => {});
    return beforeDeadline(work, deadline, () => new StoreTimeoutError(`commit within ${this.timeoutMs}ms`));
  }

  /** Fails the calls that waited in the queue past their deadline; returns the rest. */
  private expire(group: Array<Waiting<I, O>>): Array<Waiting<I, O>> {
    if (this.timeoutMs === undefined) return group;
    const now = Date.now();
    const live: Array<Waiting<I, O>> = [];
    for (const w of group) {
      if (now - w.at >= this.timeoutMs) w.reject(new StoreTimeoutError(`commit within ${this.timeoutMs}ms`));
      else live.push(w);
    }
    return live;
  }
}

function settle<I, O>(group: Array<Waiting<I, O>>, results: O[]): void {
  group.forEach((w, i) => w.resolve(results[i] as O));
}
