// Acknowledgements paced by delivery (`delivery.pace`). Ingest and delivery
// share one event loop; a sender posting as fast as it gets answers would
// otherwise take nearly all of it, and the backlog would grow until
// server.maxBacklog turns events away. While this process is behind (work
// it cannot hold in memory went to the store, or a claim found more due
// work than it could take), each answer waits, after its event is stored,
// for as many deliveries to go out as its event planned, at most `maxMs`.
// Caught up, nobody waits.

export class Pacer {
  private behind = false;
  private waiting: Array<{ need: number; done: () => void }> = [];

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

  /** A delivery went out: it counts for the oldest waiting answer, which goes once its event's count is reached. */
  step(): void {
    const head = this.waiting[0];
    if (head && --head.need <= 0) head.done();
  }

  releaseAll(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.done();
  }

  /** `deliveries`: how many its event planned. Undefined when the answer need not wait. */
  wait(deliveries: number): Promise<void> | undefined {
    if (!this.behind || deliveries <= 0) return undefined;
    return new Promise<void>((resolve) => {
      const entry = {
        need: deliveries,
        done: (): void => {
          clearTimeout(timer);
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve();
        },
      };
      const timer = setTimeout(entry.done, this.maxMs);
      this.waiting.push(entry);
    });
  }
}
