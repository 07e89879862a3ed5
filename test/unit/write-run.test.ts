import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError, ExitCode } from '../../src/errors.js';
import { failureLine, singleFailure, WriteRun } from '../../src/commands/write-run.js';
import { mayHaveChanged, type WriteFailure, writeFailure } from '../../src/kube/apply.js';
import { ApiError, NetworkError } from '../../src/kube/http.js';
import { nameList } from '../../src/members/names.js';
import { formatObjects, tallyText } from '../../src/present/objects.js';

const forbidden: WriteFailure = { error: new CliError(ExitCode.Cluster, 'forbidden: nope'), mayHaveChanged: false, aboutTheObject: true };
const unreachable: WriteFailure = {
  error: new CliError(ExitCode.Cluster, 'cannot reach the API server'),
  mayHaveChanged: true,
  aboutTheObject: false,
};

function withRun(check: (run: WriteRun) => void): void {
  const run = new WriteRun(undefined);
  try {
    check(run);
  } finally {
    run.finish();
  }
}

test('a run that did everything has nothing to say', () => {
  withRun((run) => assert.equal(run.summary('applied', { done: ['a', 'b'], notDone: [], unknown: [] }), undefined));
});

test("a member's failure the run went on after: the tally, with that failure's exit code", () => {
  withRun((run) => {
    const summary = run.summary('applied', { done: ['a'], notDone: ['b'], unknown: [] }, forbidden);
    assert.equal(summary?.message, 'applied 1 of 2 members; not applied: b');
    assert.equal(summary?.exitCode, ExitCode.Cluster);
  });
});

test('a failure of the cluster stops the run and leads the summary; one about a member is said where it happens', () => {
  withRun((run) => {
    run.fail(unreachable);
    assert.equal(run.stopped.aborted, true);
    assert.equal(run.cutOff.aborted, false, 'requests in flight are waited for');
    assert.equal(failureLine('f.yaml document 2', unreachable), undefined);
    const summary = run.summary('deleted', { done: ['a'], notDone: ['b', 'c'], unknown: ['d'] });
    assert.equal(
      summary?.message,
      'cannot reach the API server; deleted 1 of 4 members; not deleted: b, c; unknown (cut off in flight, may have been deleted): d',
    );
  });
  withRun((run) => {
    run.fail(forbidden);
    assert.equal(failureLine('member b', forbidden), 'member b: forbidden: nope');
    assert.equal(
      run.summary('deleted', { done: ['a'], notDone: ['b'], unknown: [] })?.message,
      'stopped after a failure; deleted 1 of 2 members; not deleted: b',
    );
  });
});

test('one member: its own error, or the cut-off saying it may have happened', () => {
  const summary = new CliError(ExitCode.Timeout, 'timed out after 2s; ...', {
    cause: new CliError(ExitCode.Timeout, 'timed out after 2s'),
  });
  assert.equal(singleFailure(summary, forbidden, 'x may or may not have been applied'), forbidden.error);
  const cut = singleFailure(
    summary,
    { ...unreachable, error: new CliError(ExitCode.Cluster, 'request aborted') },
    'member x may or may not have been applied',
  );
  assert.equal(cut.message, 'timed out after 2s; member x may or may not have been applied');
  assert.equal(cut.exitCode, ExitCode.Timeout);
});

test('names: all of a few, ten of many', () => {
  assert.equal(nameList(['a', 'b']), 'a, b');
  assert.equal(nameList(Array.from({ length: 13 }, (_, i) => `m${i}`)), 'm0, m1, m2, m3, m4, m5, m6, m7, m8, m9 and 3 more');
  assert.equal(tallyText('applied', { done: ['a'], notDone: [], unknown: [] }), 'applied 1 of 1 member');
});

test('objects print as kubectl prints them: managedFields hidden unless asked, a List when several were asked for', async () => {
  const member = { kind: 'Member', metadata: { name: 'a', managedFields: [{ manager: 'x' }] } };
  assert.deepEqual(JSON.parse(await formatObjects([member], 'json', { asList: false, showManagedFields: false })), {
    kind: 'Member',
    metadata: { name: 'a' },
  });
  assert.deepEqual(JSON.parse(await formatObjects([member], 'json', { asList: false, showManagedFields: true })), member);
  const list = JSON.parse(await formatObjects([member], 'json', { asList: true, showManagedFields: false })) as {
    kind: string;
    items: unknown[];
  };
  assert.equal(list.kind, 'List');
  assert.equal(list.items.length, 1);
});

test('a failed write may have happened when the request went out and no refusal came back', () => {
  const error = new CliError(ExitCode.Cluster, 'x');
  const api = (status: number, objectName?: string): ApiError => new ApiError({ status, reason: '', message: 'm', objectName });
  const cases: Array<[unknown, boolean, boolean]> = [
    [api(403, 'a'), false, true],
    [api(422, 'a'), false, true],
    [api(404), false, false],
    [api(401, 'a'), false, false],
    [api(504, 'a'), true, false],
    [new NetworkError('ECONNREFUSED', 'refused'), false, false],
    [new NetworkError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'), false, false],
    [new NetworkError('ECONNRESET', 'reset'), true, false],
    [new NetworkError('ETIMEDOUT', 'silent'), true, false],
  ];
  for (const [raw, may, about] of cases) {
    const failure = writeFailure(error, raw);
    assert.deepEqual([failure.mayHaveChanged, failure.aboutTheObject], [may, about], String(raw));
  }
  const cut = new AbortController();
  cut.abort();
  assert.deepEqual(writeFailure(error, api(403, 'a'), cut.signal).mayHaveChanged, true, 'cut off in flight');
  assert.equal(mayHaveChanged(new CliError(ExitCode.Usage, 'no kubeconfig')), false);
});
