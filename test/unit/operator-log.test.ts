import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { Announcement } from '../../src/operator/announcement.js';
import { OperatorLog } from '../../src/present/operator-log.js';
import { Terminal } from '../../src/present/terminal.js';

const T0 = '2026-11-25T10:00:00.000Z';

function logInto(format: 'text' | 'json', qualified = false): { log: OperatorLog; lines: () => string[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const term = new Terminal({ stdout: out, stderr: new PassThrough(), color: 0, spinner: false });
  const log = new OperatorLog(term, { format, qualified, now: () => new Date(T0) });
  return { log, lines: () => text.split('\n').filter((l) => l !== '') };
}

const announcement = (over: Partial<Announcement>): Announcement => ({
  kind: 'Welcomed',
  member: { uid: 'u1', namespace: 'crew', name: 'patrick', team: 'blue', resourceVersion: '1' },
  previousTeam: undefined,
  departedAt: undefined,
  time: T0,
  generation: 1,
  eventName: 'u1.welcomed',
  ...over,
});

test("the text log says the seed operator's words after the time and level", async () => {
  const { log, lines } = logInto('text', true);
  log.announce(announcement({}));
  log.announce(announcement({ kind: 'Moved', member: { ...announcement({}).member, team: 'red' }, previousTeam: 'blue' }));
  log.announce(announcement({ kind: 'Farewell' }));
  log.warn('reconnecting', { event: 'Reconnecting', lease: 'ns/x', leader: null });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines(), [
    `${T0} INFO  welcome crew/patrick to the team blue`,
    `${T0} INFO  crew/patrick moved from team blue to team red`,
    `${T0} INFO  sad to see you go crew/patrick`,
    `${T0} WARN  reconnecting lease=ns/x`,
  ]);
});

test('the JSON log has the same keys on every line, null where they do not apply', async () => {
  const { log, lines } = logInto('json');
  log.announce(announcement({ kind: 'Moved', member: { ...announcement({}).member, team: undefined }, previousTeam: 'blue' }));
  log.info('leading', { event: 'Leading', lease: 'ns/x' });
  await new Promise((r) => setImmediate(r));
  const [moved, leading] = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(moved, {
    time: T0,
    level: 'info',
    msg: 'patrick left the team blue',
    namespace: 'crew',
    name: 'patrick',
    uid: 'u1',
    team: null,
    previousTeam: 'blue',
    event: 'Moved',
  });
  assert.deepEqual(Object.keys(leading ?? {}), [
    'time',
    'level',
    'msg',
    'namespace',
    'name',
    'uid',
    'team',
    'previousTeam',
    'event',
    'lease',
  ]);
});
