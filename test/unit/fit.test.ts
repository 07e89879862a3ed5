import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseCrdManifest, storageSchema } from '../../src/members/crd.js';
import { type Misfit, SchemaFit } from '../../src/members/fit.js';
import { describeHolders, describeMisfit, fixHint, misfitLines } from '../../src/present/fit.js';

const manifest = await parseCrdManifest(readFileSync(new URL('../../crds/member.yaml', import.meta.url), 'utf8'));
const schema = storageSchema(manifest);
assert.ok(schema, 'the shipped CRD has a schema');
const fit = new SchemaFit(schema);

const member = (rest: object): Record<string, unknown> => ({
  apiVersion: 'helloworld.apimeister.com/v1',
  kind: 'Member',
  metadata: { name: 'm', namespace: 'crew', labels: { any: 'thing' }, annotations: { also: 'kept' } },
  ...rest,
});

const described = (object: Record<string, unknown>): string[] => fit.misfits(object).map(describeMisfit);

test('what the original operator accepted and the schema accepts too: nothing to report', () => {
  for (const rest of [{}, { spec: {} }, { spec: { memberOf: 'blue' } }, { spec: null }, { spec: { memberOf: null } }]) {
    assert.deepEqual(fit.misfits(member(rest)), [], JSON.stringify(rest));
  }
  // 63 characters of two UTF-16 units each: the API server counts 63.
  assert.deepEqual(fit.misfits(member({ spec: { memberOf: '😀'.repeat(63) } })), []);
  const status = { announcedTeam: 'blue', announcedAt: '2026-11-25T10:00:00Z', observedGeneration: 3 };
  assert.deepEqual(fit.misfits(member({ spec: { memberOf: 'blue' }, status })), []);
});

test('teams the schema refuses: wrong type, empty, too long (in characters), control characters', () => {
  assert.deepEqual(described(member({ spec: { memberOf: 5 } })), ['spec.memberOf: must be a string, is a number: 5']);
  assert.deepEqual(described(member({ spec: { memberOf: { name: 'x' } } })), [
    'spec.memberOf: must be a string, is an object: {"name":"x"}',
  ]);
  assert.deepEqual(described(member({ spec: { memberOf: '' } })), ['spec.memberOf: must not be empty']);
  assert.deepEqual(described(member({ spec: { memberOf: '😀'.repeat(64) } })), [
    `spec.memberOf: must be at most 63 characters, has 64: "${'😀'.repeat(58)}…`,
  ]);
  assert.deepEqual(described(member({ spec: { memberOf: 'a\u0007b' } })), [
    'spec.memberOf: must match ^[^\\x00-\\x1F\\x7F-\\x9F]*$: "a\\u0007b"',
  ]);
  // C1 controls too, shown escaped.
  assert.deepEqual(described(member({ spec: { memberOf: 'a\u009bb' } })), [
    'spec.memberOf: must match ^[^\\x00-\\x1F\\x7F-\\x9F]*$: "a\\x9bb"',
  ]);
  assert.deepEqual(described(member({ spec: 'not a mapping' })), ['spec: must be an object, is a string: "not a mapping"']);
});

test('fields the schema does not know are reported as dropped, and a misplaced one says where it belongs', () => {
  assert.deepEqual(described(member({ memberOf: 'red' })), [
    `memberOf: not in the schema, dropped at the member's next write: "red" (the schema has spec.memberOf)`,
  ]);
  assert.deepEqual(described(member({ spec: { memberOf: 'green', role: 'lead' } })), [
    `spec.role: not in the schema, dropped at the member's next write: "lead"`,
  ]);
  assert.deepEqual(
    fit.misfits(member({ status: { announcedAt: 'yesterday', observedGeneration: 1.5, note: [1] } })).map((m: Misfit) => [m.path, m.kind]),
    [
      ['status.announcedAt', 'format'],
      ['status.observedGeneration', 'type'],
      ['status.note', 'unknown'],
    ],
  );
});

test('status.announcedTeam is held to the limits of spec.memberOf, and the hint says how to mend a status', () => {
  const status = (announcedTeam: string): Record<string, unknown> =>
    member({ status: { announcedTeam, announcedAt: '2026-11-25T10:00:00Z' } });
  assert.deepEqual(
    [status('x'.repeat(64)), status(''), status('a\u0007b')].map((m) => fit.misfits(m).map((f: Misfit) => `${f.path} ${f.kind}`)),
    [['status.announcedTeam maxLength'], ['status.announcedTeam minLength'], ['status.announcedTeam pattern']],
  );
  const misfits = [{ namespace: 'crew', name: 'p', misfits: fit.misfits(status('x'.repeat(64))) }];
  assert.match(
    fixHint(true, misfits),
    /kubectl patch member NAME -n NAMESPACE --subresource status --type merge -p '\{"status":\{"announcedTeam":"TEAM"\}\}'/,
  );
  assert.doesNotMatch(fixHint(true), /subresource/);
});

test('a schema that keeps unknown fields drops nothing', () => {
  const open = new SchemaFit({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
  assert.deepEqual(open.misfits(member({ memberOf: 'red', spec: { anything: 1 } })), []);
});

test('lines name the member and escape what the cluster holds', () => {
  const lines = misfitLines([{ namespace: 'crew', name: 'm', misfits: fit.misfits(member({ spec: { memberOf: '\u001b[2J' } })) }]);
  assert.deepEqual(lines, ['crew/m: spec.memberOf: must match ^[^\\x00-\\x1F\\x7F-\\x9F]*$: "\\u001b[2J"']);
  const holders = Array.from({ length: 12 }, (_, i) => ({ namespace: 'ns', name: `m${i}`, finalizers: ['a/b', 'c/d'] }));
  assert.equal(describeHolders(holders.slice(0, 2)), 'ns/m0 (a/b, c/d), ns/m1 (a/b, c/d)');
  assert.match(describeHolders(holders), /ns\/m9 \(a\/b, c\/d\) and 2 more$/);
});
