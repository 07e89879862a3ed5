import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError, ExitCode } from '../../src/errors.js';
import { ConditionTracker, parseCondition } from '../../src/watcher/conditions.js';
import type { EventType, MemberEvent } from '../../src/watcher/events.js';

const ev = (type: EventType, name: string, team?: string): MemberEvent => ({
  type,
  member: { uid: `u-${name}`, namespace: 'ns', name, team, resourceVersion: '1' },
  previousTeam: undefined,
  source: 'watch',
  time: 'T',
});

test('conditions parse, and malformed ones are usage errors', () => {
  assert.deepEqual(parseCondition('added:patrick'), { kind: 'added', name: 'patrick', text: 'added:patrick' });
  assert.deepEqual(parseCondition('team:ns/p=blue'), { kind: 'team', name: 'ns/p', team: 'blue', text: 'team:ns/p=blue' });
  for (const bad of ['added', 'added:', 'joined:p', 'team:p', 'team:p=', 'team:=blue', ':p']) {
    assert.throws(
      () => parseCondition(bad),
      (err: unknown) => err instanceof CliError && err.exitCode === ExitCode.Usage && err.message.includes('expected added:NAME'),
      bad,
    );
  }
});

test('conditions are met in any order by default, and stay met', () => {
  const t = new ConditionTracker(['added:a', 'deleted:a', 'team:b=red'].map(parseCondition), false);
  t.observe(ev('ADDED', 'b', 'red'), 'b');
  t.observe(ev('ADDED', 'a'), 'a');
  assert.deepEqual(
    t.unmet.map((c) => c.text),
    ['deleted:a'],
  );
  t.observe(ev('DELETED', 'a'), 'a');
  assert.equal(t.done, true);
});

test('in order, a later condition met early does not count', () => {
  const t = new ConditionTracker(['added:a', 'team:b=red'].map(parseCondition), true);
  t.observe(ev('ADDED', 'b', 'red'), 'b');
  t.observe(ev('ADDED', 'a'), 'a');
  assert.deepEqual(
    t.unmet.map((c) => c.text),
    ['team:b=red'],
  );
  t.observe(ev('MODIFIED', 'b', 'red'), 'b');
  assert.equal(t.done, true);
});

test('one event may meet consecutive conditions in order', () => {
  const t = new ConditionTracker(['added:a', 'team:a=blue'].map(parseCondition), true);
  t.observe(ev('ADDED', 'a', 'blue'), 'a');
  assert.equal(t.done, true);
});
