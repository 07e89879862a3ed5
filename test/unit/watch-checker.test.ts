import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkWatch,
  type EventSource,
  parseRequests,
  type PrintedEvent,
  type TruthChange,
  type WatchRequest,
} from '../harness/watch-checker.js';

const NS = 'ns';

/** A hand-made history: what etcd stored, in revision order. */
class Story {
  readonly changes: TruthChange[] = [];

  put(revision: number, name: string, uid: string, team: string | null): this {
    this.changes.push({ revision, kind: 'put', namespace: NS, name, uid, team });
    return this;
  }

  del(revision: number, name: string, uid: string): this {
    const team = this.changes.filter((c) => c.uid === uid).at(-1)?.team ?? null;
    this.changes.push({ revision, kind: 'delete', namespace: NS, name, uid, team });
    return this;
  }
}

function ev(
  type: PrintedEvent['type'],
  name: string,
  team: string | null,
  rv: number,
  source: EventSource,
  opts: { uid?: string; previousTeam?: string | null } = {},
): PrintedEvent {
  return {
    schemaVersion: 1,
    type,
    namespace: NS,
    name,
    uid: opts.uid ?? `uid-${name}`,
    team,
    previousTeam: opts.previousTeam ?? null,
    resourceVersion: String(rv),
    time: '2026-01-01T00:00:00.000Z',
    source,
  };
}

const list: WatchRequest = { kind: 'list', resourceVersion: undefined, status: 200 };
const watch = (rv: number): WatchRequest => ({ kind: 'watch', resourceVersion: rv, status: 200 });

/** patrick exists (blue) when the watch starts at 101; then moves, ann arrives, patrick leaves. */
const simple = new Story()
  .put(101, 'patrick', 'uid-patrick', 'blue')
  .put(102, 'patrick', 'uid-patrick', 'red')
  .put(103, 'ann', 'uid-ann', null)
  .put(104, 'ann', 'uid-ann', null) // a label changed: a quiet update, nothing to print
  .del(105, 'patrick', 'uid-patrick');
const simpleRequests = [list, watch(101), watch(104)];
const simpleOutput = (): PrintedEvent[] => [
  ev('ADDED', 'patrick', 'blue', 101, 'initial'),
  ev('MODIFIED', 'patrick', 'red', 102, 'watch', { previousTeam: 'blue' }),
  ev('ADDED', 'ann', null, 103, 'watch'),
  ev('DELETED', 'patrick', 'red', 105, 'watch'),
];

test('a faithful watcher passes, with its figures', () => {
  const verdict = checkWatch(simple.changes, simpleOutput(), simpleRequests, { namespace: NS, watchOnly: false });
  assert.deepEqual(verdict.problems, []);
  assert.deepEqual(verdict.figures, {
    produced: 4,
    expected: 4,
    seen: 4,
    missing: 0,
    duplicated: 0,
    wrong: 0,
    relisted: 0,
    relists: 0,
    resumes: 1,
  });
});

test('a missing goodbye is caught', () => {
  const verdict = checkWatch(simple.changes, simpleOutput().slice(0, 3), simpleRequests, { namespace: NS, watchOnly: false });
  assert.equal(verdict.figures.missing, 1);
  assert.match(verdict.problems.join('\n'), /patrick .*missing DELETED team red rv 105 \(watch\)/);
});

test('a repeated welcome is caught', () => {
  const output = simpleOutput();
  output.splice(3, 0, ev('ADDED', 'ann', null, 103, 'watch'));
  const verdict = checkWatch(simple.changes, output, simpleRequests, { namespace: NS, watchOnly: false });
  assert.equal(verdict.figures.duplicated, 1);
  assert.match(verdict.problems.join('\n'), /ann .*printed twice: ADDED/);
});

test('a wrong previousTeam is caught', () => {
  const output = simpleOutput();
  output[1] = ev('MODIFIED', 'patrick', 'red', 102, 'watch', { previousTeam: 'green' });
  const verdict = checkWatch(simple.changes, output, simpleRequests, { namespace: NS, watchOnly: false });
  assert.equal(verdict.figures.wrong, 1);
  assert.match(verdict.problems.join('\n'), /printed MODIFIED from green team red .*expected MODIFIED from blue team red/);
});

test('a move printed out of order is caught', () => {
  const story = new Story().put(101, 'p', 'uid-p', 'blue').put(102, 'p', 'uid-p', 'red').put(103, 'p', 'uid-p', 'green');
  const output = [
    ev('ADDED', 'p', 'blue', 101, 'initial'),
    ev('MODIFIED', 'p', 'green', 103, 'watch', { previousTeam: 'red' }),
    ev('MODIFIED', 'p', 'red', 102, 'watch', { previousTeam: 'blue' }),
  ];
  const verdict = checkWatch(story.changes, output, [list, watch(101)], { namespace: NS, watchOnly: false });
  assert.ok(verdict.figures.wrong >= 1);
  assert.match(verdict.problems.join('\n'), /out of order|after a live event/);
});

test('a quiet update printed as a move, or a team that never was, is caught', () => {
  const output = simpleOutput();
  output.splice(3, 0, ev('MODIFIED', 'ann', 'blue', 104, 'watch', { previousTeam: null }));
  const verdict = checkWatch(simple.changes, output, simpleRequests, { namespace: NS, watchOnly: false });
  assert.equal(verdict.figures.wrong, 1);
  assert.match(verdict.problems.join('\n'), /ann .*MODIFIED from null team blue rv 104/);
});

/**
 * A relist at 110 after the watch had seen up to 102: inside the gap patrick moved twice, cid came and went,
 * dora arrived, and eve was deleted and recreated under the same name.
 */
const gapStory = new Story()
  .put(101, 'patrick', 'uid-patrick', 'blue')
  .put(101, 'eve', 'uid-eve', 'red')
  .put(102, 'bob', 'uid-bob', 'blue')
  .put(103, 'patrick', 'uid-patrick', 'red')
  .put(104, 'cid', 'uid-cid', 'red')
  .put(105, 'patrick', 'uid-patrick', 'green')
  .del(106, 'cid', 'uid-cid')
  .put(107, 'dora', 'uid-dora', 'blue')
  .del(108, 'eve', 'uid-eve')
  .put(109, 'eve', 'uid-eve2', 'blue')
  .put(111, 'bob', 'uid-bob', 'red');
const beforeGap = [
  ev('ADDED', 'patrick', 'blue', 101, 'initial'),
  ev('ADDED', 'eve', 'red', 101, 'initial'),
  ev('ADDED', 'bob', 'blue', 102, 'watch'),
];
const relisted = [
  ev('DELETED', 'eve', 'red', 101, 'relist'),
  ev('MODIFIED', 'patrick', 'green', 105, 'relist', { previousTeam: 'blue' }),
  ev('ADDED', 'dora', 'blue', 107, 'relist'),
  ev('ADDED', 'eve', 'blue', 109, 'relist', { uid: 'uid-eve2' }),
];
const afterGap = [ev('MODIFIED', 'bob', 'red', 111, 'watch', { previousTeam: 'blue' })];
const gapRequests = [list, watch(101), list, list, watch(110)];

test('across a relist, moves collapse, members born and gone unseen, a recreated name is goodbye and welcome', () => {
  const verdict = checkWatch(gapStory.changes, [...beforeGap, ...relisted, ...afterGap], gapRequests, { namespace: NS, watchOnly: false });
  assert.deepEqual(verdict.problems, []);
  assert.equal(verdict.figures.relists, 1);
  assert.equal(verdict.figures.relisted, 4);
  // Without the gap: patrick's two moves, cid's welcome and goodbye, eve's goodbye and welcome, dora, bob twice.
  assert.equal(verdict.figures.produced, 11);
  assert.equal(verdict.figures.expected, 8);
});

test('the same collapse without a relist in the log is a loss', () => {
  const verdict = checkWatch(gapStory.changes, [...beforeGap, ...relisted, ...afterGap], [list, watch(101), watch(110)], {
    namespace: NS,
    watchOnly: false,
  });
  // patrick's first move, cid's welcome and goodbye; and four events labelled `relist` without one.
  assert.equal(verdict.figures.missing, 3, verdict.problems.join('\n'));
  assert.equal(verdict.figures.wrong, 4, verdict.problems.join('\n'));
  assert.match(verdict.problems.join('\n'), /cid .*missing ADDED/);
});

test('a relist that forgets a goodbye, or welcomes the recreated name first, is caught', () => {
  const swapped = [relisted[3], relisted[1], relisted[2], relisted[0]] as PrintedEvent[];
  const verdict = checkWatch(gapStory.changes, [...beforeGap, ...swapped, ...afterGap], gapRequests, { namespace: NS, watchOnly: false });
  assert.match(verdict.problems.join('\n'), /eve: .*uid-eve .*after ADDED/);
  const forgot = checkWatch(gapStory.changes, [...beforeGap, ...relisted.slice(1), ...afterGap], gapRequests, {
    namespace: NS,
    watchOnly: false,
  });
  assert.equal(forgot.figures.missing, 1);
  assert.match(forgot.problems.join('\n'), /eve .*missing DELETED team red rv 101\|110 \(relist\)/);
  // The goodbye may also carry the list's resourceVersion, but no other.
  const atList = [...relisted];
  atList[0] = ev('DELETED', 'eve', 'red', 110, 'relist');
  assert.deepEqual(
    checkWatch(gapStory.changes, [...beforeGap, ...atList, ...afterGap], gapRequests, { namespace: NS, watchOnly: false }).problems,
    [],
  );
  atList[0] = ev('DELETED', 'eve', 'red', 108, 'relist');
  assert.equal(
    checkWatch(gapStory.changes, [...beforeGap, ...atList, ...afterGap], gapRequests, { namespace: NS, watchOnly: false }).figures.wrong,
    1,
  );
});

test('issue 10 item 1: a watch that started empty and took its relist for a first list is caught', () => {
  // Empty at the start (list at 100); ann arrives live, then in the gap she leaves and bob arrives.
  const story = new Story().put(102, 'ann', 'uid-ann', 'blue').del(105, 'ann', 'uid-ann').put(106, 'bob', 'uid-bob', 'red');
  const requests = [list, watch(100), list, watch(110)];
  const buggy = [ev('ADDED', 'ann', 'blue', 102, 'watch'), ev('ADDED', 'bob', 'red', 106, 'initial')];
  const verdict = checkWatch(story.changes, buggy, requests, { namespace: NS, watchOnly: false });
  assert.equal(verdict.figures.missing, 1);
  assert.equal(verdict.figures.wrong, 1);
  assert.match(verdict.problems.join('\n'), /ann .*missing DELETED/);
  assert.match(verdict.problems.join('\n'), /bob .*printed ADDED team red rv 106 \(initial\), expected ADDED team red rv 106 \(relist\)/);
  // With --watch-only the buggy watcher printed nothing from the gap at all.
  const quiet = checkWatch(story.changes, buggy.slice(0, 1), requests, { namespace: NS, watchOnly: true });
  assert.equal(quiet.figures.missing, 2);
});

test('--watch-only: members there at the start are not welcomed, but their moves and goodbyes are printed', () => {
  const output = simpleOutput().slice(1);
  const verdict = checkWatch(simple.changes, output, simpleRequests, { namespace: NS, watchOnly: true });
  assert.deepEqual(verdict.problems, []);
  const greeted = checkWatch(simple.changes, simpleOutput(), simpleRequests, { namespace: NS, watchOnly: true });
  assert.match(greeted.problems.join('\n'), /patrick .*printed ADDED team blue rv 101 \(initial\), which the truth does not explain/);
});

test('a live name deleted and recreated: the goodbye of the old uid before the welcome of the new one', () => {
  const story = new Story().put(101, 'p', 'uid-1', 'blue').del(102, 'p', 'uid-1').put(103, 'p', 'uid-2', 'red');
  const ok = [ev('ADDED', 'p', 'blue', 101, 'initial', { uid: 'uid-1' }), ev('DELETED', 'p', 'blue', 102, 'watch', { uid: 'uid-1' })];
  const welcome = ev('ADDED', 'p', 'red', 103, 'watch', { uid: 'uid-2' });
  assert.deepEqual(checkWatch(story.changes, [...ok, welcome], [list, watch(101)], { namespace: NS, watchOnly: false }).problems, []);
  const early = checkWatch(story.changes, [ok[0] as PrintedEvent, welcome, ok[1] as PrintedEvent], [list, watch(101)], {
    namespace: NS,
    watchOnly: false,
  });
  assert.ok(early.problems.length > 0);
});

test('an event for a member that never existed, or a malformed line, is caught', () => {
  const output = [
    ...simpleOutput(),
    ev('ADDED', 'ghost', 'blue', 106, 'watch'),
    { ...ev('ADDED', 'x', null, 107, 'watch'), namespace: 'other' },
  ];
  const verdict = checkWatch(simple.changes, output, simpleRequests, { namespace: NS, watchOnly: false });
  assert.match(verdict.problems.join('\n'), /ghost .*never existed.*which the truth does not explain/);
  assert.match(verdict.problems.join('\n'), /malformed or foreign event/);
});

test('a log without a list and a watch cannot be checked', () => {
  const verdict = checkWatch(simple.changes, simpleOutput(), [], { namespace: NS, watchOnly: false });
  assert.match(verdict.problems.join('\n'), /--debug/);
});

test('the debug log gives lists and watches with their resourceVersions, other requests left out', () => {
  const base = 'https://127.0.0.1:6443/apis/helloworld.apimeister.com/v1/namespaces/ns/members';
  const stderr = [
    'connecting to https://127.0.0.1:6443...',
    `debug: GET ${base}?limit=500&resourceVersion=0 200 12ms`,
    `debug: GET ${base}?watch=1&resourceVersion=183&allowWatchBookmarks=true&timeoutSeconds=300 200 1ms`,
    'debug: GET https://127.0.0.1:6443/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x 200 3ms',
    `debug: GET ${base}?limit=500 200 9ms`,
    `debug: GET ${base}?watch=1&resourceVersion=190&allowWatchBookmarks=true&timeoutSeconds=300 failed: connect ECONNREFUSED`,
  ].join('\n');
  assert.deepEqual(parseRequests(stderr), [
    { kind: 'list', resourceVersion: 0, status: 200 },
    { kind: 'watch', resourceVersion: 183, status: 200 },
    { kind: 'list', resourceVersion: undefined, status: 200 },
    { kind: 'watch', resourceVersion: 190, status: undefined },
  ]);
});

/** A streamed list: the watch that brings the list, with where its initial events ended. */
const stream = (ended: number | undefined, status: number | undefined = 200): WatchRequest => ({
  kind: 'stream',
  resourceVersion: ended,
  status,
});

test('a streamed list is a list at the resourceVersion its initial events end at, and the watch from there', () => {
  const verdict = checkWatch(simple.changes, simpleOutput(), [stream(101), watch(104)], { namespace: NS, watchOnly: false });
  assert.deepEqual(verdict.problems, []);
  assert.equal(verdict.figures.resumes, 1);
  // Refused first (HTTP 422 from a server that does not stream lists), then listed: the same verdict.
  const refused = checkWatch(simple.changes, simpleOutput(), [stream(undefined, 422), list, watch(101), watch(104)], {
    namespace: NS,
    watchOnly: false,
  });
  assert.deepEqual(refused.problems, []);
  // Ended at 102 instead: patrick's move was part of the starting state, so greeting him blue is wrong.
  const later = checkWatch(simple.changes, simpleOutput(), [stream(102), watch(104)], { namespace: NS, watchOnly: false });
  assert.match(
    later.problems.join('\n'),
    /patrick .*printed ADDED team blue rv 101 \(initial\), expected ADDED team red rv 102 \(initial\)/,
  );
  // A relist streamed after a 410, like a paged one.
  const relist = checkWatch(gapStory.changes, [...beforeGap, ...relisted, ...afterGap], [list, watch(101), stream(110)], {
    namespace: NS,
    watchOnly: false,
  });
  assert.deepEqual(relist.problems, []);
  assert.equal(relist.figures.relists, 1);
  // Initial events that never ended leave the list unfinished.
  const unended = checkWatch(simple.changes, simpleOutput(), [stream(undefined)], { namespace: NS, watchOnly: false });
  assert.match(unended.problems.join('\n'), /ended while listing/);
});

test('the debug log gives streamed lists with where their initial events ended', () => {
  const base = 'https://127.0.0.1:6443/apis/helloworld.apimeister.com/v1/namespaces/ns/members';
  const streamed = `${base}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=300`;
  const stderr = [
    `debug: GET ${streamed} 422 4ms`,
    'debug: listing instead of streaming the list: the API server answered HTTP 422: ...',
    `debug: GET ${streamed} 200 3ms`,
    'debug: the initial events end at resourceVersion 183',
    `debug: GET ${base}?watch=1&resourceVersion=190&allowWatchBookmarks=true&timeoutSeconds=300 200 1ms`,
    `debug: GET ${streamed} 200 3ms`,
  ].join('\n');
  assert.deepEqual(parseRequests(stderr), [
    { kind: 'stream', resourceVersion: undefined, status: 422 },
    { kind: 'stream', resourceVersion: 183, status: 200 },
    { kind: 'watch', resourceVersion: 190, status: 200 },
    { kind: 'stream', resourceVersion: undefined, status: 200 },
  ]);
});
