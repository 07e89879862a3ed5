import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { mapLimit, NOT_STARTED } from '../../src/kube/parallel.js';

test('results keep the order of the items, with at most `limit` in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const results = await mapLimit([30, 10, 20, 5, 15], 2, async (ms, i) => {
    most = Math.max(most, ++inFlight);
    await sleep(ms);
    inFlight -= 1;
    return i * 10;
  });
  assert.deepEqual(results, [0, 10, 20, 30, 40]);
  assert.equal(most, 2);
});

test('once stopped, no item starts; those in flight finish and the rest are NOT_STARTED', async () => {
  const stop = new AbortController();
  const started: number[] = [];
  const results = await mapLimit(
    [0, 1, 2, 3, 4, 5, 6, 7],
    3,
    async (item) => {
      started.push(item);
      if (item === 1) stop.abort();
      await sleep(10);
      return item;
    },
    stop.signal,
  );
  // Item 0 is in flight when item 1 stops the run: item 1 finishes too, item 2 never starts.
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(results, [0, 1, NOT_STARTED, NOT_STARTED, NOT_STARTED, NOT_STARTED, NOT_STARTED, NOT_STARTED]);
});
