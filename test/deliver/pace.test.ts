// The pacer behind `delivery.pace` (src/deliver/pace.ts): answers wait only
// while deliveries are behind, one goes per delivery out, all go on catching up.
import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/deliver/pace.js';

const settledOf = (p: Promise<void>) => {
  const state = { done: false };
  void p.then(() => (state.done = true));
  return state;
};
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('Pacer', () => {
  it('never holds an answer while caught up, or when pace is 0', () => {
    expect(new Pacer(60_000).wait(1)).toBeUndefined();
    const off = new Pacer(0);
    off.fallBehind();
    expect(off.wait(1)).toBeUndefined();
  });

  it('lets the oldest waiting answer go per delivery out, and all of them on catching up', async () => {
    const pacer = new Pacer(60_000);
    pacer.fallBehind();
    const [a, b, c] = [pacer.wait(1)!, pacer.wait(1)!, pacer.wait(1)!].map(settledOf);
    await turn();
    expect([a!.done, b!.done, c!.done]).toEqual([false, false, false]);
    pacer.step();
    await turn();
    expect([a!.done, b!.done, c!.done]).toEqual([true, false, false]);
    pacer.catchUp();
    await turn();
    expect([b!.done, c!.done]).toEqual([true, true]);
    expect(pacer.wait(1)).toBeUndefined();
  });

  it('holds the answer to an event of N deliveries until N went out, and never one that planned none', async () => {
    const pacer = new Pacer(60_000);
    pacer.fallBehind();
    expect(pacer.wait(0)).toBeUndefined();
    const [a, b] = [pacer.wait(2)!, pacer.wait(1)!].map(settledOf);
    pacer.step();
    await turn();
    expect([a!.done, b!.done]).toEqual([false, false]);
    pacer.step();
    await turn();
    expect([a!.done, b!.done]).toEqual([true, false]);
    pacer.step();
    await turn();
    expect(b!.done).toBe(true);
  });

  it('lets an answer go after at most maxMs', async () => {
    const pacer = new Pacer(20);
    pacer.fallBehind();
    await pacer.wait(1); // resolves by its timer: nothing else releases it
    pacer.step(); // the timed-out waiter left the queue: nothing to release, no throw
  });
});
