// What a store call that waited too long fails with. The ingest server
// answers it with 503 and Retry-After (senders retry); the deliverer lets the
// lease lapse. Either way nothing acknowledged is lost.

import { RelayError } from '../errors.js';

export class StoreTimeoutError extends RelayError {
  /** `what` completes "the store did not …", e.g. `commit within 5000ms`. */
  constructor(what: string) {
    super('RELAY_ERR_STORE_TIMEOUT', `the store did not ${what}`);
    this.name = 'StoreTimeoutError';
  }
}

/** Settles like `work`, or rejects with `onTimeout()` at `deadline` (ms since the epoch), whichever is first. */
export function beforeDeadline<T>(work: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
