import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError, ExitCode } from '../../src/errors.js';
import { pollUntil } from '../../src/kube/poll.js';

/** A check that counts its calls and says yes from `readyAt` ms on. */
function probe(readyAt = Number.POSITIVE_INFINITY): { done: () => Promise<boolean>; calls: number[] } {
  const started = performance.now();
  const calls: number[] = [];
  return {
    calls,
    done: async () => {
      const at = performance.now() - started;
      calls.push(at);
      return at >= readyAt;
    },
  };
}

const isTimeout = (pattern: RegExp) => (err: unknown) =>
  err instanceof CliError && err.exitCode === ExitCode.Timeout && pattern.test(err.message);

test('a limit of 0 checks exactly once, then times out', async () => {
  const p = probe();
  await assert.rejects(pollUntil('the thing', p.done, 0), isTimeout(/^timed out after 0s waiting for the thing$/));
  assert.equal(p.calls.length, 1);
});

test('a limit of 0 succeeds when the one check does', async () => {
  const p = probe(0);
  await pollUntil('the thing', p.done, 0);
  assert.equal(p.calls.length, 1);
});

test('a limit below the interval is kept: the last check falls on the deadline', async () => {
  const p = probe();
  const started = performance.now();
  await assert.rejects(pollUntil('x', p.done, 120, { intervalMs: 1000 }), isTimeout(/after 120ms/));
  const elapsed = performance.now() - started;
  assert.equal(p.calls.length, 2, `checks at ${p.calls.join(', ')}`);
  assert.ok((p.calls[1] ?? 0) >= 119, `last check at ${p.calls[1]}`);
  assert.ok(elapsed >= 120 && elapsed < 900, `gave up after ${elapsed} ms`);
});

test('never gives up before the deadline: a state reached just before it is seen', async () => {
  // Ready at 230 ms with a 240 ms limit and a 200 ms interval: only the check at the deadline can see it.
  const p = probe(230);
  await pollUntil('x', p.done, 240, { intervalMs: 200 });
  assert.ok((p.calls.at(-1) ?? 0) >= 230);
});

test('the timeout names what still holds the wait', async () => {
  await assert.rejects(
    pollUntil('members to be deleted', probe().done, 10, { pending: () => 'a (finalizer example.com/hold)' }),
    isTimeout(/waiting for members to be deleted; still pending: a \(finalizer example.com\/hold\)$/),
  );
});
