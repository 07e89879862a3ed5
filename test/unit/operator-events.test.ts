import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGGREGATE_MAX, COMBINED_PREFIX, EventCorrelator, type EventFacts, eventName } from '../../src/operator/event-correlator.js';

const T0 = '2026-11-25T10:00:00.000Z';

const facts = (message: string, reason = 'Moved'): EventFacts => ({
  namespace: 'crew',
  name: 'patrick',
  uid: 'u1',
  type: 'Normal',
  reason,
  message,
});

test('the same Event again patches the one recorded, with a count', () => {
  const correlator = new EventCorrelator();
  const first = correlator.correlate(facts('patrick moved from team blue to team red'), new Date(T0), 'aa');
  assert.deepEqual([first.kind, first.name, first.count], ['create', 'patrick.aa', 1]);
  correlator.recorded(first);
  const again = correlator.correlate(facts('patrick moved from team blue to team red'), new Date('2026-11-25T10:05:00.500Z'), 'bb');
  assert.deepEqual(
    [again.kind, again.name, again.count, again.firstTimestamp, again.lastTimestamp],
    ['patch', 'patrick.aa', 2, '2026-11-25T10:00:00Z', '2026-11-25T10:05:00Z'],
  );
  const other = correlator.correlate(facts('patrick moved from team red to team blue'), new Date(T0), 'cc');
  assert.equal(other.kind, 'create');
});

test('an Event not yet accepted by the server is not patched', () => {
  const correlator = new EventCorrelator();
  correlator.correlate(facts('x'), new Date(T0), 'aa');
  assert.equal(correlator.correlate(facts('x'), new Date(T0), 'bb').kind, 'create');
});

test('many similar Events within ten minutes are combined into one, as client-go does', () => {
  const correlator = new EventCorrelator();
  const at = new Date(T0);
  for (let i = 1; i < AGGREGATE_MAX; i += 1) correlator.recorded(correlator.correlate(facts(`m${i}`), at, `n${i}`));
  const combined = correlator.correlate(facts('m10'), at, 'n10');
  assert.deepEqual([combined.kind, combined.message], ['create', `${COMBINED_PREFIX}m10`]);
  correlator.recorded(combined);
  const next = correlator.correlate(facts('m11'), at, 'n11');
  assert.deepEqual([next.kind, next.name, next.count, next.message], ['patch', 'patrick.n10', 2, `${COMBINED_PREFIX}m11`]);
  const later = correlator.correlate(facts('m12'), new Date(at.getTime() + 11 * 60_000), 'n12');
  assert.equal(later.message, 'm12');
});

test('the correlator forgets the least recently used Events past its size', () => {
  const correlator = new EventCorrelator(2);
  for (const m of ['a', 'b', 'c']) correlator.recorded(correlator.correlate(facts(m), new Date(T0), m));
  assert.equal(correlator.correlate(facts('a'), new Date(T0), 'x').kind, 'create');
  assert.equal(correlator.correlate(facts('c'), new Date(T0), 'y').kind, 'patch');
});

test('Event names stay valid object names for the longest member names', () => {
  assert.equal(eventName('patrick', '1a2b'), 'patrick.1a2b');
  const long = `${'a'.repeat(230)}-${'b'.repeat(22)}`;
  const name = eventName(long, '18c1f2e3d4c5b6a7');
  assert.ok(name.length <= 253, String(name.length));
  assert.match(name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
});
