import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chalk } from 'chalk';
import { escapeControl } from '../../src/present/escape.js';
import { formatEventJson } from '../../src/present/event-json.js';
import { formatEventText, isQuietUpdate } from '../../src/present/event-text.js';
import { changedPaths, formatChange } from '../../src/present/diff.js';
import { colorLevel } from '../../src/present/style.js';
import type { EventType, MemberEvent } from '../../src/watcher/events.js';

const plain = new Chalk({ level: 0 });
const ev = (type: EventType, team?: string, previousTeam?: string, name = 'patrick'): MemberEvent => ({
  type,
  member: { uid: 'u1', namespace: 'crew', name, team, resourceVersion: '42' },
  previousTeam,
  source: 'watch',
  time: '2026-11-25T10:00:00.000Z',
});
const text = (e: MemberEvent, qualified = false, timestamps = false): string => formatEventText(e, { chalk: plain, qualified, timestamps });

test("the seed operator's words", () => {
  assert.equal(text(ev('ADDED', 'blue')), 'welcome patrick to the team blue');
  assert.equal(text(ev('ADDED')), 'welcome patrick');
  assert.equal(text(ev('DELETED', 'blue')), 'sad to see you go patrick');
  assert.equal(text(ev('MODIFIED', 'red', 'blue')), 'patrick moved from team blue to team red');
  assert.equal(text(ev('MODIFIED', 'blue')), 'patrick joined the team blue');
  assert.equal(text(ev('MODIFIED', undefined, 'blue')), 'patrick left the team blue');
  assert.equal(text(ev('MODIFIED', 'blue', 'blue')), 'patrick was updated');
  assert.equal(text(ev('ADDED', 'blue'), true, true), '2026-11-25T10:00:00.000Z welcome crew/patrick to the team blue');
});

test('only updates that keep the team are quiet', () => {
  assert.equal(isQuietUpdate(ev('MODIFIED', 'blue', 'blue')), true);
  assert.equal(isQuietUpdate(ev('MODIFIED', 'red', 'blue')), false);
  assert.equal(isQuietUpdate(ev('ADDED', 'blue')), false);
});

test('colour marks names and kinds of event, and is absent at level 0', () => {
  const coloured = formatEventText(ev('ADDED', 'blue'), { chalk: new Chalk({ level: 1 }), qualified: false, timestamps: false });
  assert.match(coloured, /\u001b\[32m/);
  assert.match(coloured, /\u001b\[1mpatrick/);
  assert.doesNotMatch(text(ev('ADDED', 'blue')), /\u001b/);
});

test('a hostile team cannot drive the terminal', () => {
  const hostile = ev('ADDED', '\u001b]0;pwned\u0007\u001b[2J\u009b31m', undefined);
  const line = text(hostile);
  assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/);
  assert.equal(line, 'welcome patrick to the team \\e]0;pwned\\x07\\e[2J\\x9b31m');
  const json = formatEventJson(hostile);
  assert.doesNotMatch(json, /[\u0000-\u001f\u007f-\u009f]/);
  assert.equal(JSON.parse(json).team, hostile.member.team);
  assert.equal(escapeControl('a\tb\nc\rd\u007f'), 'a\\tb\\nc\\rd\\x7f');
});

test('NDJSON lines carry every documented field', () => {
  const parsed = JSON.parse(formatEventJson({ ...ev('MODIFIED', 'red', 'blue'), source: 'relist' }));
  assert.deepEqual(parsed, {
    schemaVersion: 1,
    type: 'MODIFIED',
    namespace: 'crew',
    name: 'patrick',
    uid: 'u1',
    team: 'red',
    previousTeam: 'blue',
    resourceVersion: '42',
    time: '2026-11-25T10:00:00.000Z',
    source: 'relist',
  });
  assert.equal(JSON.parse(formatEventJson(ev('ADDED'))).team, null);
  assert.equal(JSON.parse(formatEventJson(ev('DELETED', 'x', 'y'))).previousTeam, null);
});

test('changed paths describe what an apply would change', () => {
  const changes = changedPaths({ spec: { a: 1, list: [1, 2], gone: true } }, { spec: { a: 2, list: [1, 3], added: 'x' } });
  assert.deepEqual(changes.map(formatChange), ['~ spec.a: 1 -> 2', '~ spec.list[1]: 2 -> 3', '- spec.gone: true', '+ spec.added: "x"']);
  assert.deepEqual(changedPaths({ a: [1] }, { a: [1] }), []);
  // Parts added or removed whole are listed leaf by leaf; an empty one is a change of its own.
  assert.deepEqual(
    changedPaths({ spec: { old: { x: [1] } } }, { spec: { schema: { type: 'object', list: ['a'] }, status: {} } }).map(formatChange),
    ['- spec.old.x[0]: 1', '+ spec.schema.type: "object"', '+ spec.schema.list[0]: "a"', '+ spec.status: {}'],
  );
});

test('colour follows flags, NO_COLOR, FORCE_COLOR and the terminal', () => {
  const base = { noColorFlag: false, machineOutput: false, isTTY: true, env: {} };
  assert.equal(colorLevel(base), 2);
  assert.equal(colorLevel({ ...base, isTTY: false }), 0);
  assert.equal(colorLevel({ ...base, noColorFlag: true }), 0);
  assert.equal(colorLevel({ ...base, machineOutput: true, env: { FORCE_COLOR: '1' } }), 0);
  assert.equal(colorLevel({ ...base, env: { NO_COLOR: '1', FORCE_COLOR: '1' } }), 0);
  assert.equal(colorLevel({ ...base, isTTY: false, env: { FORCE_COLOR: '1' } }), 1);
  assert.equal(colorLevel({ ...base, env: { FORCE_COLOR: '0' } }), 0);
});
