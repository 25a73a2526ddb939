// The claim loop's sleep: it ends at its timeout or at the first wake(),
// and a wake() that comes while the loop is busy is remembered, so work
// that arrives between a claim and the next sleep is never slept through.

export class Waker {
  private woken = false;
  private wakeSleeper: (() => void) | undefined;

  wake(): void {
    this.woken = true;
    this.wakeSleeper?.();
  }

  /** Forgets a remembered wake (the loop is about to look for work anyway). */
  clear(): void {
    this.woken = false;
  }

  /** Resolves after `ms`, or at once when woken since the last sleep or clear, or when `skip`. */
  sleep(ms: number, skip = false): Promise<void> {
    if (this.woken || skip) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakeSleeper = done;
    });
  }
}
