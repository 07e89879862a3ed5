import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chalk } from 'chalk';
import { ApiError, NetworkError } from '../../src/kube/http.js';
import type { Progress } from '../../src/present/terminal.js';
import { describeFailure, formatDelay } from '../../src/present/watch-notices.js';
import { type NoticeTerminal, StatusReporter, type WatchScope } from '../../src/present/watch-output.js';
import type { WatcherStatus } from '../../src/watcher/events.js';
import { ClosedAtOnce } from '../../src/watcher/watcher.js';

/** A terminal that writes down what it was asked to show: plain lines, or a spinner's successive texts. */
function fakeTerminal(spinners: boolean): NoticeTerminal & { lines: string[]; spinner: string[] } {
  const lines: string[] = [];
  const spinner: string[] = [];
  const progress = (text: string): Promise<Progress> => {
    if (!spinners) {
      lines.push(`${text}...`);
      return Promise.resolve({
        update: (t) => lines.push(`${t}...`),
        succeed: () => undefined,
        fail: () => undefined,
        stop: () => undefined,
      });
    }
    spinner.push(text);
    return Promise.resolve({
      update: (t) => spinner.push(t),
      succeed: () => undefined,
      fail: () => undefined,
      stop: () => spinner.push('(stopped)'),
    });
  };
  return {
    lines,
    spinner,
    chalk: new Chalk({ level: 0 }),
    spinners,
    notice: (t) => lines.push(t),
    warn: (t) => lines.push(`warning: ${t}`),
    progress,
  };
}

const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
const refused = new NetworkError('ECONNREFUSED', 'connection refused');
const scope: WatchScope = { namespace: 'crew', selected: false, server: 'https://127.0.0.1:6443' };

async function run(term: NoticeTerminal, statuses: WatcherStatus[], options: WatchScope = scope): Promise<void> {
  const reporter = new StatusReporter(term, options);
  for (const s of statuses) reporter.report(s);
  await reporter.stop();
}

test('without a terminal: one line per attempt, one "reconnected" per outage, a CRD wait said once', async () => {
  const term = fakeTerminal(false);
  await run(term, [
    { kind: 'connecting' },
    { kind: 'listed', members: 0 },
    { kind: 'live', first: true },
    // An outage: the connection lost, the server away, then 410 and a relist before the watch is live again.
    { kind: 'reconnecting', cause: aborted, delayMs: 500, attempt: 1 },
    { kind: 'reconnecting', cause: refused, delayMs: 9_200, attempt: 2 },
    { kind: 'relisting' },
    { kind: 'live', first: false },
    // The CRD deleted: polled again and again, one notice.
    { kind: 'waiting-for-crd' },
    { kind: 'waiting-for-crd' },
    { kind: 'waiting-for-crd' },
    { kind: 'live', first: false },
    // A watch that expired in the ordinary way and had to list again.
    { kind: 'relisting' },
    { kind: 'live', first: false },
    { kind: 'skipped', what: 'watch event', problem: 'ADDED event: the object is null', text: '{"type":"ADDED","object":null}\u001b[2J' },
  ]);
  assert.deepEqual(term.lines, [
    'connecting to https://127.0.0.1:6443...',
    'no members in namespace crew yet',
    'watching members in namespace crew',
    'reconnecting in 0.5 s (attempt 1): the connection to the API server was lost...',
    'reconnecting in 9 s (attempt 2): connection refused...',
    'the API server no longer has the history to resume from: listing again to catch up...',
    'reconnected',
    'waiting for the Member CRD to be installed (member-watch install-crd)...',
    'the Member CRD is installed again: watching members in namespace crew',
    'the API server no longer has the history to resume from: listing again to catch up...',
    'caught up',
    'warning: skipped a watch event the API server sent (ADDED event: the object is null): {"type":"ADDED","object":null}\\e[2J',
  ]);
});

test('on a terminal the reconnect delay counts down on the spinner', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
  const term = fakeTerminal(true);
  const reporter = new StatusReporter(term, scope);
  reporter.report({ kind: 'live', first: true });
  reporter.report({ kind: 'reconnecting', cause: refused, delayMs: 9_000, attempt: 3 });
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 3; i++) t.mock.timers.tick(1000);
  reporter.report({ kind: 'live', first: false });
  await reporter.stop();
  assert.deepEqual(term.spinner, [
    'reconnecting in 9 s (attempt 3): connection refused',
    'reconnecting in 8 s (attempt 3): connection refused',
    'reconnecting in 7 s (attempt 3): connection refused',
    'reconnecting in 6 s (attempt 3): connection refused',
    '(stopped)',
  ]);
  assert.deepEqual(term.lines, ['watching members in namespace crew', 'reconnected']);
  // Stopped: no tick after the watch is live again.
  t.mock.timers.tick(5000);
  assert.equal(term.spinner.length, 5);
});

test('an empty start says so, in the words of the scope', async () => {
  const every = fakeTerminal(false);
  await run(every, [{ kind: 'listed', members: 0 }], { ...scope, namespace: undefined, selected: true });
  assert.deepEqual(every.lines, ['no members matching the selectors in any namespace yet']);
  const some = fakeTerminal(false);
  await run(some, [{ kind: 'listed', members: 3 }]);
  assert.deepEqual(some.lines, []);
});

test('failures in words: no "aborted", no bare status codes', () => {
  assert.equal(describeFailure(aborted), 'the connection to the API server was lost');
  // The kube client's words for network failures are kept.
  assert.equal(describeFailure(refused), 'connection refused');
  assert.equal(
    describeFailure(new NetworkError('ETIMEDOUT', 'no data from the API server for 7 s')),
    'no data from the API server for 7 s',
  );
  assert.equal(describeFailure(new ClosedAtOnce()), 'the API server ended the watch at once, without an event');
  assert.equal(describeFailure(new SyntaxError('the list response was cut short')), 'the answer was cut off part-way');
  assert.equal(
    describeFailure(new ApiError({ status: 429, reason: 'TooManyRequests', message: 'slow down', retryAfterSeconds: 2 })),
    'the API server asks clients to slow down (HTTP 429: slow down)',
  );
  assert.equal(describeFailure(new ApiError({ status: 503, reason: '', message: 'HTTP 503' })), 'the API server is unavailable (HTTP 503)');
  assert.equal(
    describeFailure(new ApiError({ status: 418, reason: '', message: 'teapot' })),
    'the API server answered with an error (HTTP 418: teapot)',
  );
  assert.equal(formatDelay(480), '0.5 s');
  assert.equal(formatDelay(9_000), '9 s');
  assert.equal(formatDelay(-20), '0.0 s');
});
