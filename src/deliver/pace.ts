// Acknowledgements paced by delivery (`delivery.pace`). Ingest and delivery
// share one event loop; a sender posting as fast as it gets answers would
// otherwise take nearly all of it, and the backlog would grow until
// server.maxBacklog turns events away. While this process is behind (work
// it cannot hold in memory went to the store, or a claim found more due
// work than it could take), each answer waits, after its event is stored,
// for one delivery to go out, at most `maxMs`. Caught up, nobody waits.

export class Pacer {
  private behind = false;
  private waiting: Array<() => void> = [];

  constructor(private readonly maxMs: number) {}

  /** Deliveries are behind: answers wait from now on. */
  fallBehind(): void {
    if (this.maxMs > 0) this.behind = true;
  }

  /** Caught up: nobody waits, and those waiting go. */
  catchUp(): void {
    this.behind = false;
    this.releaseAll();
  }

  /** A delivery went out: the oldest waiting answer goes. */
  step(): void {
    this.waiting.shift()?.();
  }

  releaseAll(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const done of waiting) done();
  }

  /** Undefined when the answer need not wait. */
  wait(): Promise<void> | undefined {
    if (!this.behind) return undefined;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.waiting.indexOf(done);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, this.maxMs);
      this.waiting.push(done);
    });
  }
}
