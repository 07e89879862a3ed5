import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chalk } from 'chalk';
import { escapeControl } from '../../src/present/escape.js';
import { formatEventJson } from '../../src/present/event-json.js';
import { formatEventText, isQuietUpdate } from '../../src/present/event-text.js';
import { changedPaths } from '../../src/kube/diff.js';
import { formatChange } from '../../src/present/diff.js';
import { fitLine, hasSize, type TerminalStream } from '../../src/present/spinner-line.js';
import { animates, colorLevel } from '../../src/present/style.js';
import { decodeMember } from '../../src/watcher/decode.js';
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

test('entering and leaving the selection: by team, joined or left the team; by selectors, (no longer) matches them', () => {
  const by = (change: 'entered' | 'left', via: 'team' | 'selector'): Pick<MemberEvent, 'selection'> => ({ selection: { change, by: via } });
  const sel = (e: MemberEvent): string => formatEventText(e, { chalk: plain, qualified: false, timestamps: false, selectors: 'role=lead' });
  assert.equal(sel({ ...ev('DELETED', 'red', 'blue'), ...by('left', 'team') }), 'patrick left the team blue for the team red');
  assert.equal(sel({ ...ev('DELETED', undefined, 'blue'), ...by('left', 'team') }), 'patrick left the team blue');
  assert.equal(sel({ ...ev('ADDED', 'blue'), ...by('entered', 'team') }), 'patrick joined the team blue');
  assert.equal(sel({ ...ev('DELETED', 'blue', 'blue'), ...by('left', 'selector') }), 'patrick no longer matches role=lead');
  assert.equal(sel({ ...ev('ADDED', 'blue'), ...by('entered', 'selector') }), 'patrick now matches role=lead');
  const json = (e: MemberEvent): Record<string, unknown> => JSON.parse(formatEventJson(e)) as Record<string, unknown>;
  assert.deepEqual(
    [json({ ...ev('DELETED', 'red', 'blue'), ...by('left', 'team') })].map((j) => [j.type, j.selection, j.team, j.previousTeam]),
    [['DELETED', 'left', 'red', 'blue']],
  );
  assert.equal(json(ev('DELETED', 'blue')).selection, null);
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
    selection: null,
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

const BIDI = ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'];
const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u180e', '\u2028', '\u2029'];
const hex4 = (c: string): string => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

test('every bidirectional control is escaped in text and in JSON, and JSON still parses to the same text', () => {
  for (const c of BIDI) {
    const team = `red${c}blue`;
    assert.equal(text(ev('ADDED', team)), `welcome patrick to the team red${hex4(c)}blue`, hex4(c));
    const json = formatEventJson(ev('ADDED', team));
    assert.ok(json.includes(`red${hex4(c)}blue`), `${hex4(c)} in ${json}`);
    assert.ok(!json.includes(c), `${hex4(c)} raw in JSON`);
    assert.equal(JSON.parse(json).team, team);
  }
});

test('zero-width and other invisible characters are escaped in text and in JSON', () => {
  for (const c of INVISIBLE) {
    assert.equal(escapeControl(`a${c}b`), `a${hex4(c)}b`, hex4(c));
    const json = formatEventJson(ev('ADDED', `a${c}b`));
    assert.ok(!json.includes(c), `${hex4(c)} raw in JSON`);
    assert.equal(JSON.parse(json).team, `a${c}b`);
  }
  // The soft hyphen hides in Latin-1, escaped like the C1 controls beside it.
  assert.equal(escapeControl('a\u00adb'), 'a\\xadb');
  assert.ok(!formatEventJson(ev('ADDED', 'a\u00adb')).includes('\u00ad'));
  // Beyond the first plane (a tag character) and a lone surrogate: escaped whole, still valid JSON.
  assert.equal(escapeControl('a\u{e0041}b'), 'a\\u{e0041}b');
  assert.equal(escapeControl('a\ud800b'), 'a\\ud800b');
  const json = formatEventJson(ev('ADDED', 'a\u{e0041}b\ud800'));
  assert.ok(json.includes('a\\udb40\\udc41b\\ud800'), json);
  assert.equal(JSON.parse(json).team, 'a\u{e0041}b\ud800');
});

test('letters of every script, emoji and plain spaces are left as they are', () => {
  for (const team of ['équipe', '青队', 'فريق', 'צוות', 'команда 🎉', 'a b']) {
    assert.equal(escapeControl(team), team);
    assert.equal(text(ev('ADDED', team)), `welcome patrick to the team ${team}`);
    assert.equal(JSON.parse(formatEventJson(ev('ADDED', team))).team, team);
  }
});

test('an empty team from a schemaless CRD reads as no team, in text and in JSON', () => {
  const decoded = decodeMember({ metadata: { name: 'patrick', uid: 'u1', resourceVersion: '1' }, spec: { memberOf: '' } }, 'crew');
  assert.ok(decoded.ok);
  const event: MemberEvent = { type: 'ADDED', member: decoded.value, previousTeam: undefined, source: 'watch', time: 'T' };
  assert.equal(text(event), 'welcome patrick');
  assert.equal(JSON.parse(formatEventJson(event)).team, null);
  // And a move to an empty team is leaving the team.
  const left: MemberEvent = { ...event, type: 'MODIFIED', previousTeam: 'blue' };
  assert.equal(text(left), 'patrick left the team blue');
});

test('a spinner only on a coloured terminal, and never under CI', () => {
  assert.equal(animates(true, 2, {}), true);
  assert.equal(animates(false, 2, {}), false);
  assert.equal(animates(true, 0, {}), false);
  assert.equal(animates(true, 2, { CI: 'true' }), false);
  assert.equal(animates(true, 2, { CI: '' }), false);
  // A dumb terminal cannot move its cursor back over a spinner's line, whatever FORCE_COLOR says of colour.
  assert.equal(animates(true, 1, { TERM: 'dumb', FORCE_COLOR: '1' }), false);
});

test("a spinner's text is cut to one line of the terminal, and a terminal of no size has none", () => {
  assert.equal(fitLine('connecting to https://example.org', 80), 'connecting to https://example.org');
  assert.equal(fitLine('connecting to https://example.org', 20), 'connecting to ht…');
  assert.equal([...fitLine('ä'.repeat(50), 20)].length, 17);
  assert.equal(fitLine('anything', 3), '');
  assert.equal(hasSize({ columns: 0, rows: 0 } as TerminalStream), false);
  assert.equal(hasSize({ columns: 80, rows: 0 } as TerminalStream), false);
  assert.equal(hasSize({ columns: 80, rows: 24 } as TerminalStream), true);
});
