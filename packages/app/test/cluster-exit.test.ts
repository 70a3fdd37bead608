// When a cluster primary (thread_pools.io.workers > 1) may exit after a stop: once no worker runs. Node
// lists a worker in cluster.workers until both its process exited and its IPC channel closed, in either
// order, so a worker whose exit came first is still listed at its own 'exit' event.
import { describe, expect, it } from 'vitest';
import { allWorkersDead } from '../src/bootstrap.js';

const worker = (dead: boolean) => ({ isDead: () => dead });

describe('cluster primary: all workers dead', () => {
  // Mutation tried: the check as it was (`Object.keys(cluster.workers).length === 0`) -> the first case
  // returned false: this test failed (and the primary hung until killed).
  it('counts a worker still listed but exited as gone', () => {
    expect(allWorkersDead({ 1: worker(true) })).toBe(true);
    expect(allWorkersDead({ 1: worker(true), 2: worker(true) })).toBe(true);
  });

  it('waits while any worker runs', () => {
    expect(allWorkersDead({ 1: worker(true), 2: worker(false) })).toBe(false);
  });

  it('no workers at all, or none listed: gone', () => {
    expect(allWorkersDead({})).toBe(true);
    expect(allWorkersDead(undefined)).toBe(true);
  });
});
