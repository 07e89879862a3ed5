import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError, ExitCode } from '../../src/errors.js';
import { checkConditionScope, ConditionTracker, parseCondition } from '../../src/watcher/conditions.js';
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

test('conditions that could never match the watch are refused, with the spelling that would', () => {
  const refused = (texts: string[], namespace: string | undefined): { message: string; hint: string | undefined } => {
    try {
      checkConditionScope(texts.map(parseCondition), namespace, 'crew');
    } catch (err) {
      assert.ok(err instanceof CliError);
      assert.equal(err.exitCode, ExitCode.Usage);
      return { message: err.message, hint: err.hint };
    }
    assert.fail(`${texts.join(' ')} was accepted`);
  };
  // Accepted: NAME for one namespace, NAMESPACE/NAME with -A.
  checkConditionScope(['added:ann', 'deleted:ann', 'team:ann=blue'].map(parseCondition), 'crew', 'crew');
  checkConditionScope(['added:crew/ann', 'team:other/ann=blue'].map(parseCondition), undefined, 'crew');

  const all = refused(['team:ann=blue'], undefined);
  assert.match(all.message, /names no namespace: with -A members are named NAMESPACE\/NAME/);
  assert.equal(all.hint, 'write --for team:crew/ann=blue');

  const same = refused(['added:ann', 'deleted:crew/ann'], 'crew');
  assert.match(same.message, /--for deleted:crew\/ann names the namespace: without -A members are named by NAME alone/);
  assert.equal(same.hint, 'write --for deleted:ann');

  const other = refused(['added:elsewhere/ann'], 'crew');
  assert.match(other.message, /about namespace elsewhere, but the watch is of namespace crew/);
  assert.equal(other.hint, 'watch that namespace (-n elsewhere --for added:ann) or every namespace (-A)');

  assert.match(refused(['added:Ann'], 'crew').message, /can never be met: a name must consist of lowercase/);
  assert.match(refused(['added:a/b/c'], undefined).message, /can never be met/);
  assert.match(refused(['added:/ann'], undefined).message, /can never be met: a namespace must not be empty/);
  // A namespace is a label, not a name: no dots, at most 63 characters.
  assert.match(refused(['added:team.a/ann'], undefined).message, /can never be met: a namespace is at most 63 lowercase/);
  assert.match(refused([`deleted:${'n'.repeat(64)}/ann`], undefined).message, /can never be met: a namespace is at most 63/);
});

test('in order, events of one batch (a list, a relist) meet the conditions in any order; separate events keep theirs', () => {
  const listed = (name: string): MemberEvent => ({ ...ev('ADDED', name), source: 'initial', batch: 1 });
  for (const order of [
    ['a', 'b'],
    ['b', 'a'],
  ]) {
    const t = new ConditionTracker(['added:a', 'added:b'].map(parseCondition), true);
    for (const name of order) t.observe(listed(name), name);
    assert.equal(t.done, true, `listed ${order.join(', ')}`);
  }
  const live = new ConditionTracker(['added:a', 'added:b'].map(parseCondition), true);
  live.observe(ev('ADDED', 'b'), 'b');
  live.observe(ev('ADDED', 'a'), 'a');
  assert.deepEqual(
    live.unmet.map((c) => c.text),
    ['added:b'],
  );
  // A later batch does not reach back into an earlier one.
  const batches = new ConditionTracker(['added:a', 'added:b'].map(parseCondition), true);
  batches.observe({ ...ev('ADDED', 'b'), batch: 1 }, 'b');
  batches.observe({ ...ev('ADDED', 'a'), batch: 2 }, 'a');
  assert.deepEqual(
    batches.unmet.map((c) => c.text),
    ['added:b'],
  );
});

test('deleted: is met by a deletion, not by a member leaving the selection; added: by one entering it', () => {
  const t = new ConditionTracker(['deleted:a', 'added:b'].map(parseCondition), false);
  t.observe({ ...ev('DELETED', 'a'), selection: { change: 'left', by: 'selector' } }, 'a');
  t.observe({ ...ev('ADDED', 'b'), selection: { change: 'entered', by: 'team' } }, 'b');
  assert.deepEqual(
    t.unmet.map((c) => c.text),
    ['deleted:a'],
  );
  t.observe(ev('DELETED', 'a'), 'a');
  assert.equal(t.done, true);
});
