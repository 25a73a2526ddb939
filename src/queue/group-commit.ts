// Group commit: calls submitted in the same event-loop turn, or while the
// previous group is committing, are written by one flush (one transaction)
// and each caller's promise settles after that commit. One commit per group
// instead of per call is what makes synchronous=FULL and PostgreSQL fast.

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
}

export class GroupCommit<I, O> {
  private queue: Array<Waiting<I, O>> = [];
  private active = false;
  private drained: Array<() => void> = [];

  /**
   * @param flush writes the items in one transaction and returns one result
   *   per item, in order.
   * @param maxGroup caps a group so one commit's latency stays bounded.
   */
  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxGroup = 1000,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
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
        const group = this.queue.splice(0, this.maxGroup);
        try {
          settle(group, await this.flush(group.map((w) => w.item)));
        } catch (err) {
          if (group.length === 1) {
            group[0]?.reject(err);
            continue;
          }
          // One bad item must not fail the others: commit each on its own.
          for (const w of group) {
            try {
              settle([w], await this.flush([w.item]));
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
}

function settle<I, O>(group: Array<Waiting<I, O>>, results: O[]): void {
  group.forEach((w, i) => w.resolve(results[i] as O));
}
