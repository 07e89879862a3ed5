import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MemberState } from '../../src/watcher/events.js';
import { MemberStore } from '../../src/watcher/store.js';

const m = (name: string, team: string | undefined, rv: string, uid = `uid-${name}`): MemberState => ({
  uid,
  namespace: 'ns',
  name,
  team,
  resourceVersion: rv,
});
const T = '2026-01-01T00:00:00.000Z';

test('a repeated event after a resume is dropped', () => {
  const store = new MemberStore();
  assert.equal(store.apply('ADDED', m('p', 'blue', '1'), 'watch', T)?.type, 'ADDED');
  assert.equal(store.apply('ADDED', m('p', 'blue', '1'), 'watch', T), undefined);
  assert.equal(store.apply('MODIFIED', m('p', 'blue', '1'), 'watch', T), undefined);
});

test('team changes carry the previous team', () => {
  const store = new MemberStore();
  store.apply('ADDED', m('p', undefined, '1'), 'watch', T);
  const joined = store.apply('MODIFIED', m('p', 'blue', '2'), 'watch', T);
  assert.deepEqual([joined?.type, joined?.previousTeam, joined?.member.team], ['MODIFIED', undefined, 'blue']);
  const moved = store.apply('MODIFIED', m('p', 'red', '3'), 'watch', T);
  assert.deepEqual([moved?.previousTeam, moved?.member.team], ['blue', 'red']);
});

test('a goodbye for a member never greeted, or already seen off, is dropped', () => {
  const store = new MemberStore();
  assert.equal(store.apply('DELETED', m('p', 'blue', '1'), 'watch', T), undefined);
  store.apply('ADDED', m('p', 'blue', '1'), 'watch', T);
  assert.equal(store.apply('DELETED', m('p', 'blue', '2'), 'watch', T)?.type, 'DELETED');
  assert.equal(store.apply('DELETED', m('p', 'blue', '2'), 'watch', T), undefined);
  assert.equal(store.size, 0);
});

test('a relist turns what was missed into goodbyes, welcomes and moves, and repeats nothing', () => {
  const store = new MemberStore();
  for (const s of [m('gone', 'blue', '1'), m('stays', 'blue', '2'), m('moves', 'blue', '3'), m('reborn', 'red', '4')])
    store.apply('ADDED', s, 'initial', T);
  const events = store.reconcile(
    [m('stays', 'blue', '2'), m('moves', 'green', '7'), m('reborn', 'red', '8', 'uid-new'), m('fresh', undefined, '9')],
    T,
  );
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.member.name} ${e.previousTeam ?? '-'}>${e.member.team ?? '-'} ${e.source}`),
    [
      'DELETED gone ->blue relist',
      'MODIFIED moves blue>green relist',
      'DELETED reborn ->red relist',
      'ADDED reborn ->red relist',
      'ADDED fresh ->- relist',
    ],
  );
  assert.deepEqual(
    store.reconcile([m('stays', 'blue', '2'), m('moves', 'green', '7'), m('reborn', 'red', '8', 'uid-new'), m('fresh', undefined, '9')], T),
    [],
  );
});

test('clear sees everyone off', () => {
  const store = new MemberStore();
  store.apply('ADDED', m('b', 'x', '1'), 'watch', T);
  store.apply('ADDED', m('a', 'x', '2'), 'watch', T);
  assert.deepEqual(
    store.clear(T).map((e) => `${e.type} ${e.member.name}`),
    ['DELETED a', 'DELETED b'],
  );
});

test('the same name in two namespaces is two members; goodbyes come in namespace/name order', () => {
  const store = new MemberStore();
  const inNs = (namespace: string, name: string): MemberState => ({ ...m(name, undefined, '1', `${namespace}-${name}`), namespace });
  for (const [ns, name] of [
    ['b', 'x'],
    ['a', 'y'],
    ['a', 'x'],
    ['b', 'a'],
  ] as const)
    store.apply('ADDED', inNs(ns, name), 'watch', T);
  assert.equal(store.size, 4);
  assert.equal(store.apply('DELETED', inNs('b', 'x'), 'watch', T)?.member.namespace, 'b');
  assert.equal(store.size, 3);
  const gone = store.reconcile([inNs('a', 'y')], T);
  assert.deepEqual(
    gone.map((e) => `${e.type} ${e.member.namespace}/${e.member.name}`),
    ['DELETED a/x', 'DELETED b/a'],
  );
  assert.equal(store.size, 1);
});

test('a member that leaves the selection is seen off as such, with the team it had; one that enters is not new', () => {
  const store = new MemberStore();
  store.apply('ADDED', m('p', 'blue', '1'), 'initial', T);
  const left = store.leave(m('p', 'red', '2'), 'team', 'watch', T);
  assert.deepEqual(
    [left?.type, left?.member.team, left?.previousTeam, left?.selection],
    ['DELETED', 'red', 'blue', { change: 'left', by: 'team' }],
  );
  assert.equal(store.size, 0);
  assert.equal(store.leave(m('p', 'red', '3'), 'team', 'watch', T), undefined, 'not selected: nothing to leave');
  const entered = store.enter(m('p', 'blue', '4'), 'selector', 'watch', T);
  assert.deepEqual([entered.type, entered.selection], ['ADDED', { change: 'entered', by: 'selector' }]);
  assert.equal(store.size, 1);
});

test('a relist tells the members that left the selection from those deleted', () => {
  const store = new MemberStore();
  for (const s of [m('gone', 'blue', '1'), m('left', 'blue', '2'), m('stays', 'blue', '3')]) store.apply('ADDED', s, 'initial', T);
  const departed = new Map([['ns/left', { state: m('left', 'blue', '9'), by: 'selector' as const }]]);
  const events = store.reconcile([m('stays', 'blue', '3')], T, departed);
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.member.name} ${e.selection?.change ?? '-'} ${e.member.resourceVersion}`),
    ['DELETED gone - 1', 'DELETED left left 9'],
  );
});
