import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/watcher/backoff.js';

test('delays double up to the cap, with jitter between half and all of the step', () => {
  const low = new Backoff({ initialMs: 100, maxMs: 1000, healthyMs: 5000, random: () => 0 });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map(() => low.next()),
    [50, 100, 200, 400, 500, 500],
  );
  const high = new Backoff({ initialMs: 100, maxMs: 1000, healthyMs: 5000, random: () => 1 });
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => high.next()),
    [100, 200, 400, 800, 1000],
  );
});

test('Retry-After is a floor', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, healthyMs: 5000, random: () => 1 });
  assert.equal(b.next(3), 3000);
  assert.equal(b.next(0), 200);
});

test('only a healthy connection resets the delay', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, healthyMs: 5000, random: () => 1 });
  b.next();
  b.next();
  b.connectionLasted(4999);
  assert.equal(b.attempts, 2);
  b.connectionLasted(5000);
  assert.equal(b.attempts, 0);
  assert.equal(b.next(), 100);
});
