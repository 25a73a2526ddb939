// Deliveries an ingest leased to this process beyond its free slots wait
// here, in memory and in order, instead of going back to the store for the
// claim loop: under a burst, a delivery started from this queue costs no
// claim transaction (an UPDATE and a read of its event). The queue is
// bounded (Deliverer: a few times `concurrency`), and an entry that has
// waited so long that its lease would lapse during its attempt is handed
// back to the store instead of started; stop() hands back the rest.

import type { ClaimedDelivery } from '../queue/store.js';

/** How many deliveries may wait here per running slot (in total and per action). */
export const READY_DEPTH = 4;

interface Entry {
  delivery: ClaimedDelivery;
  key: string;
  /** When it was handed over (its lease started just before). */
  at: number;
}

export type Verdict = 'start' | 'wait' | 'hand-back';

export class ReadyQueue {
  private entries: Entry[] = [];
  private readonly perKey = new Map<string, number>();

  get size(): number {
    return this.entries.length;
  }

  /** Waiting deliveries of one action (rule and action key). */
  of(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  push(delivery: ClaimedDelivery, key: string, at: number): void {
    this.entries.push({ delivery, key, at });
    this.perKey.set(key, this.of(key) + 1);
  }

  /**
   * Asks `decide` about each entry, oldest first, with how long it has
   * waited; removes those it starts or hands back. Returns the handed back.
   * An entry told to wait (its action is full) does not block later ones.
   */
  drain(now: number, decide: (delivery: ClaimedDelivery, waitedMs: number) => Verdict): ClaimedDelivery[] {
    if (this.entries.length === 0) return [];
    const handBack: ClaimedDelivery[] = [];
    const kept: Entry[] = [];
    for (const e of this.entries) {
      const verdict = decide(e.delivery, now - e.at);
      if (verdict === 'wait') {
        kept.push(e);
        continue;
      }
      this.drop(e.key);
      if (verdict === 'hand-back') handBack.push(e.delivery);
    }
    this.entries = kept;
    return handBack;
  }

  /** Empties the queue (shutdown): everything in it goes back to the store. */
  takeAll(): ClaimedDelivery[] {
    const all = this.entries.map((e) => e.delivery);
    this.entries = [];
    this.perKey.clear();
    return all;
  }

  private drop(key: string): void {
    const left = this.of(key) - 1;
    if (left > 0) this.perKey.set(key, left);
    else this.perKey.delete(key);
  }
}
