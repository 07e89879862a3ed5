import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeListMeta, decodeMember, decodeWatchLine, teamOf } from '../../src/watcher/decode.js';

const member = (metadata: unknown, spec: unknown = { memberOf: 'blue' }): unknown => ({ apiVersion: 'v1', kind: 'Member', metadata, spec });
const meta = { name: 'ann', uid: 'u1', resourceVersion: '7', namespace: 'crew' };

test('a well-formed member keeps uid, namespace, name, team and resourceVersion', () => {
  assert.deepEqual(decodeMember(member(meta), 'crew'), {
    ok: true,
    value: { uid: 'u1', namespace: 'crew', name: 'ann', team: 'blue', resourceVersion: '7' },
  });
  // A namespaced watch may get objects that do not repeat their namespace.
  const withoutNamespace = { name: meta.name, uid: meta.uid, resourceVersion: meta.resourceVersion };
  assert.deepEqual(decodeMember(member(withoutNamespace), 'crew'), decodeMember(member(meta), 'crew'));
  assert.equal(decodeMember(member(meta), undefined).ok, true);
});

test('every shape a server could send instead of a member is a problem, never an exception', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /the object is null/],
    [undefined, /the object is missing/],
    ['ann', /the object is string "ann"/],
    [[meta], /the object is a list/],
    [{ kind: 'Member' }, /it has no metadata/],
    [{ metadata: null }, /its metadata is null/],
    [{ metadata: 'x' }, /its metadata is string/],
    [member({ ...meta, name: undefined }), /metadata\.name is missing/],
    [member({ ...meta, name: '' }), /metadata\.name is empty/],
    [member({ ...meta, name: 5 }), /metadata\.name is number 5/],
    [member({ ...meta, uid: null }), /metadata\.uid is null/],
    [member({ ...meta, uid: {} }), /metadata\.uid is an object/],
    [member({ ...meta, resourceVersion: 12 }), /metadata\.resourceVersion is number 12/],
    [member({ ...meta, namespace: 3 }), /metadata\.namespace is number 3/],
    [member({ ...meta, namespace: 'other' }), /in namespace other, not crew/],
  ];
  for (const [raw, problem] of cases) {
    const decoded = decodeMember(raw, 'crew');
    assert.equal(decoded.ok, false, JSON.stringify(raw));
    if (!decoded.ok) assert.match(decoded.problem, problem);
  }
  const withoutNamespace = { name: meta.name, uid: meta.uid, resourceVersion: meta.resourceVersion };
  const anywhere = decodeMember(member(withoutNamespace), undefined);
  assert.equal(anywhere.ok, false);
  if (!anywhere.ok) assert.match(anywhere.problem, /names no namespace/);
});

test('an empty or non-string team is no team', () => {
  assert.equal(teamOf({ memberOf: 'blue' }), 'blue');
  for (const spec of [
    undefined,
    null,
    'blue',
    [],
    {},
    { memberOf: '' },
    { memberOf: null },
    { memberOf: 5 },
    { memberOf: ['a'] },
    { memberOf: { a: 1 } },
  ]) {
    assert.equal(teamOf(spec), undefined, JSON.stringify(spec));
  }
  const decoded = decodeMember(member(meta, { memberOf: '' }), 'crew');
  assert.ok(decoded.ok && decoded.value.team === undefined);
});

test('watch lines: changes, bookmarks, errors, and everything else as malformed', () => {
  const added = decodeWatchLine({ type: 'ADDED', object: member(meta) }, 'crew');
  assert.equal(added.kind, 'change');
  assert.ok(added.kind === 'change' && added.member.ok && added.member.value.resourceVersion === '7');

  assert.deepEqual(decodeWatchLine({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } }, 'crew'), {
    kind: 'bookmark',
    resourceVersion: '9',
    initialEventsEnd: false,
  });
  // The end of a streamed list's initial events: only the annotation's exact value "true" says so.
  const bookmark = (annotations: unknown): unknown => ({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9', annotations } } });
  const ends = (annotations: unknown): unknown => {
    const line = decodeWatchLine(bookmark(annotations), 'crew');
    return line.kind === 'bookmark' && line.initialEventsEnd;
  };
  assert.equal(ends({ 'k8s.io/initial-events-end': 'true' }), true);
  for (const other of [{ 'k8s.io/initial-events-end': 'false' }, { 'k8s.io/initial-events-end': true }, { other: 'true' }, null, 'true']) {
    assert.equal(ends(other), false, JSON.stringify(other));
  }
  assert.deepEqual(decodeWatchLine({ type: 'ERROR', object: { code: 410, reason: 'Expired', message: 'too old' } }, 'crew'), {
    kind: 'error',
    status: { code: 410, reason: 'Expired', message: 'too old' },
  });
  assert.deepEqual(decodeWatchLine({ type: 'ERROR', object: null }, 'crew'), {
    kind: 'error',
    status: { code: undefined, reason: undefined, message: undefined },
  });
  assert.deepEqual(decodeWatchLine({ type: 'ERROR', object: { code: '410' } }, 'crew'), {
    kind: 'error',
    status: { code: undefined, reason: undefined, message: undefined },
  });

  const nullObject = decodeWatchLine({ type: 'ADDED', object: null }, 'crew');
  assert.ok(nullObject.kind === 'change' && !nullObject.member.ok);
  const nameless = decodeWatchLine({ type: 'DELETED', object: { metadata: { resourceVersion: '11' } } }, 'crew');
  assert.ok(nameless.kind === 'change' && !nameless.member.ok);

  const malformed: Array<[unknown, RegExp]> = [
    [null, /the event is null/],
    [[], /the event is a list/],
    [5, /the event is number 5/],
    [{}, /type missing/],
    [{ type: 5, object: member(meta) }, /type number 5/],
    [{ type: 'RENAMED', object: member(meta) }, /type string "RENAMED"/],
    [{ type: 'BOOKMARK' }, /BOOKMARK event without metadata.resourceVersion/],
    [{ type: 'BOOKMARK', object: { metadata: {} } }, /BOOKMARK/],
  ];
  for (const [raw, problem] of malformed) {
    const line = decodeWatchLine(raw, 'crew');
    assert.equal(line.kind, 'malformed', JSON.stringify(raw));
    if (line.kind === 'malformed') assert.match(line.problem, problem);
  }
});

test('list metadata: a resourceVersion is required, a continue token optional', () => {
  assert.deepEqual(decodeListMeta({ kind: 'MemberList', items: [], metadata: { resourceVersion: '5' } }), {
    resourceVersion: '5',
    continue: undefined,
  });
  assert.deepEqual(decodeListMeta({ items: null, metadata: { resourceVersion: '5', continue: 'abc' } }), {
    resourceVersion: '5',
    continue: 'abc',
  });
  assert.deepEqual(decodeListMeta({ items: [], metadata: { resourceVersion: '5', continue: '' } })?.continue, undefined);
  for (const raw of [
    null,
    [],
    'x',
    {},
    { metadata: {} },
    { metadata: { resourceVersion: 5 } },
    { items: 3, metadata: { resourceVersion: '5' } },
    { metadata: { resourceVersion: '5', continue: 1 } },
  ]) {
    assert.equal(decodeListMeta(raw), undefined, JSON.stringify(raw));
  }
});
