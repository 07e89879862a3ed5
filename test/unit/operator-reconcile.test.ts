import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FINALIZER, type MemberObject } from '../../src/members/resource.js';
import { decide, ONLY_OURS, type OperatorMember, operatorMember } from '../../src/operator/member.js';
import type { ActingScope } from '../../src/operator/reconciler.js';
import { MemberStore } from '../../src/watcher/store.js';
import { INSTANCE_MAX } from '../../src/operator/announcement-events.js';
import { defaultIdentity } from '../../src/operator/operator.js';
import { type Harness, harness, IDENTITY, T0 } from './operator-api.js';

const member = (over: Partial<OperatorMember> = {}): OperatorMember => ({
  uid: 'u1',
  namespace: 'crew',
  name: 'patrick',
  team: 'blue',
  resourceVersion: '1',
  generation: 1,
  deleting: false,
  finalizers: ONLY_OURS,
  announcedTeam: 'blue',
  announcedAt: T0,
  observedGeneration: 1,
  ...over,
});

test('decide: the finalizer first, then the welcome, then moves; goodbyes only for welcomed members', () => {
  const cases: Array<[Partial<OperatorMember>, boolean, string | undefined]> = [
    [{ finalizers: undefined, announcedAt: undefined, announcedTeam: undefined }, true, 'hold'],
    [{ announcedAt: undefined, announcedTeam: undefined }, true, 'welcome'],
    [{ finalizers: undefined, announcedAt: undefined, announcedTeam: undefined }, false, 'welcome'],
    [{ announcedAt: undefined }, false, 'release'],
    [{}, true, undefined],
    [{ team: 'red' }, true, 'move'],
    [{ team: undefined }, true, 'move'],
    [{ generation: 3 }, true, 'observe'],
    [{ deleting: true }, true, 'farewell'],
    [{ deleting: true, announcedAt: undefined }, true, 'release'],
    [{ deleting: true }, false, 'release'],
    [{ deleting: true, finalizers: ['other'] }, true, undefined],
    [{ finalizers: ['other'], announcedAt: undefined }, true, 'hold'],
  ];
  for (const [over, useFinalizer, expected] of cases) {
    assert.equal(decide(member(over), useFinalizer), expected, JSON.stringify({ over, useFinalizer }));
  }
});

test('the projection keeps what decisions need and shares the common finalizer list', () => {
  const object: MemberObject = {
    apiVersion: 'helloworld.apimeister.com/v1',
    kind: 'Member',
    metadata: { name: 'p', namespace: 'n', uid: 'u', resourceVersion: '7', generation: 2, finalizers: [FINALIZER], deletionTimestamp: T0 },
    spec: { memberOf: 'blue' },
    status: { announcedTeam: 'red', announcedAt: T0, observedGeneration: 1 },
  };
  const projected = operatorMember(object);
  assert.equal(projected.finalizers, ONLY_OURS);
  assert.deepEqual(
    { ...projected, finalizers: [...(projected.finalizers ?? [])] },
    {
      uid: 'u',
      namespace: 'n',
      name: 'p',
      team: 'blue',
      resourceVersion: '7',
      generation: 2,
      deleting: true,
      finalizers: [FINALIZER],
      announcedTeam: 'red',
      announcedAt: T0,
      observedGeneration: 1,
    },
  );
});

test('odd metadata from a proxy or a schemaless CRD is read as absent, not trusted', () => {
  const object = {
    apiVersion: 'helloworld.apimeister.com/v1',
    kind: 'Member',
    metadata: { name: 'p', namespace: 'n', uid: 'u', resourceVersion: '7', generation: '2', finalizers: 'x', deletionTimestamp: null },
    status: { announcedTeam: 5, announcedAt: {}, observedGeneration: '1' },
  } as unknown as MemberObject;
  const projected = operatorMember(object);
  assert.deepEqual(
    [projected.generation, projected.deleting, projected.finalizers, projected.announcedTeam, projected.announcedAt],
    [0, false, undefined, undefined, undefined],
  );
  assert.equal(projected.observedGeneration, undefined);
});

const acting = (h: Harness): ActingScope => ({ signal: h.scope.signal, mayAct: () => true });
const WELCOMED = 'uid-patrick.welcomed';

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !done(); i += 1) await new Promise((r) => setTimeout(r, 5));
  assert.ok(done(), 'did not happen within 2 s');
}

/** A member welcomed to blue at T0, holding our finalizer. */
function welcomedPatrick(h: Harness, over: Partial<MemberObject['metadata']> = {}): void {
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER], ...over });
  h.api.touch('patrick', (o) => {
    o.status = { announcedTeam: 'blue', announcedAt: T0, observedGeneration: 1 };
  });
}

test('a new member gets the finalizer, then its welcome: committed by its Event, then recorded in its status', async () => {
  const h = harness();
  h.api.add('patrick', 'blue');
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue']);
  assert.deepEqual(h.api.requests, ['PATCH patrick', `POST event ${WELCOMED}`, 'PATCH patrick/status']);
  const object = h.api.objects.get('patrick');
  assert.deepEqual(object?.metadata.finalizers, [FINALIZER]);
  assert.equal(object?.status?.announcedTeam, 'blue');
  assert.deepEqual(h.api.eventsOf('patrick'), ['Welcomed Welcomed patrick']);
});

test('a welcome another process made (its Event exists) is recorded from the Event, not made again', async () => {
  const h = harness();
  h.api.add('patrick', 'red', { finalizers: [FINALIZER] });
  // Made while the team was blue, by a leader that stopped before recording it.
  h.api.addEvent(WELCOMED, { team: 'blue', at: T0, generation: 1 });
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  // The status says what was announced; the move to red continues from it.
  assert.deepEqual(h.announced, ['Moved patrick red from blue']);
  assert.equal(h.api.objects.get('patrick')?.status?.announcedTeam, 'red');
  assert.deepEqual(h.api.requests.slice(0, 4), [
    `POST event ${WELCOMED}`,
    `GET event ${WELCOMED}`,
    'PATCH patrick/status',
    `POST event uid-patrick.moved.${Date.parse(T0)}`,
  ]);
});

test('a status cleared by hand is restored from the Welcomed Event, silently', async () => {
  const h = harness();
  welcomedPatrick(h);
  h.api.addEvent(WELCOMED, { team: 'blue', at: T0, generation: 1 });
  h.api.touch('patrick', (o) => delete o.status);
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, []);
  assert.deepEqual(h.api.objects.get('patrick')?.status, { announcedTeam: 'blue', announcedAt: T0, observedGeneration: 1 });
});

test('a 409 on the record re-reads the member and records again; the change that caused it follows', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.seen('patrick');
  h.api.failNext(/^PATCH patrick\/status/, () =>
    h.api.touch('patrick', (o) => {
      o.spec = { memberOf: 'red' };
    }),
  );
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue', 'Moved patrick red from blue']);
  assert.deepEqual(h.api.requests.slice(1, 4), ['PATCH patrick/status', 'GET patrick', 'PATCH patrick/status']);
});

test('finding 1: a commit whose answer was lost is settled before anything else, and told once, whatever comes after', async () => {
  for (const [fault, requests] of [
    ['lose-answer', [`POST event ${WELCOMED}`, `GET event ${WELCOMED}`, 'GET patrick', 'PATCH patrick/status']],
    ['reset', [`POST event ${WELCOMED}`, `GET event ${WELCOMED}`, 'GET patrick', `POST event ${WELCOMED}`, 'PATCH patrick/status']],
  ] as const) {
    const h = harness();
    h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
    h.seen('patrick');
    h.api.failNext(/^POST event/, fault);
    h.reconciler.start(acting(h));
    await h.settle();
    assert.deepEqual(h.announced, ['Welcomed patrick blue'], fault);
    assert.deepEqual(h.api.requests, requests, fault);
    assert.equal(h.failures.length, 1, fault);
  }
});

test('finding 1: a goodbye whose Event answer was lost is told once, the retry and the deletion after it adding nothing', async () => {
  for (const fault of ['lose-answer', 'reset'] as const) {
    const h = harness();
    welcomedPatrick(h, { deletionTimestamp: T0 });
    h.seen('patrick');
    h.api.failNext(/^POST event/, fault);
    h.reconciler.start(acting(h));
    await h.settle();
    assert.equal(h.api.objects.has('patrick'), false, fault);
    h.deleted('patrick');
    await h.settle();
    assert.deepEqual(h.announced, ['Farewell patrick blue'], fault);
    assert.deepEqual(h.api.eventsOf('patrick'), ['Farewell Farewell patrick'], fault);
  }
});

test('finding 3: a commit whose answer was lost when the term ended is settled by a read as a standby, and told by its maker', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.seen('patrick');
  h.api.failNext(/^POST event/, 'lose-answer');
  // The read that settles it fails too, at first: the partition goes on.
  h.api.failNext(/^GET event/, 'reset');
  let allowed = true;
  h.reconciler.start({ signal: h.scope.signal, mayAct: () => allowed });
  await new Promise((r) => setTimeout(r, 2));
  allowed = false;
  h.scope.abort();
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue']);
  // Not recorded: that is the next leader's, which finds the Event.
  assert.equal(h.api.objects.get('patrick')?.status, undefined);
});

test('a term that starts while a lost answer is being settled as a standby does not settle it beside: told once', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.seen('patrick');
  h.api.failNext(/^POST event/, 'lose-answer');
  let answer = (): void => undefined;
  h.api.failNext(
    /^GET event/,
    new Promise<void>((r) => {
      answer = r;
    }),
  );
  const term = new AbortController();
  h.reconciler.start({ signal: term.signal, mayAct: () => !term.signal.aborted });
  await until(() => h.api.requests.includes(`POST event ${WELCOMED}`));
  term.abort();
  // As a standby, the read that settles the lost answer is slow; the next term starts meanwhile.
  await until(() => h.api.requests.includes(`GET event ${WELCOMED}`));
  h.reconciler.start(acting(h));
  await new Promise((r) => setTimeout(r, 20));
  answer();
  await until(() => h.api.requests.includes('PATCH patrick/status'));
  await new Promise((r) => setTimeout(r, 20));
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue']);
  assert.equal(h.api.objects.get('patrick')?.status?.announcedTeam, 'blue');
});

test('a create whose answer was lost, of an announcement this process had made before, is not told again', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.seen('patrick');
  const behind = structuredClone(h.api.objects.get('patrick'));
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue']);
  // The watch is behind: the cache still shows the member unwelcomed, and the create the welcome tries again loses its answer.
  h.api.failNext(/^POST event/, 'reset');
  const stale = operatorMember({ ...(behind as MemberObject), metadata: { ...(behind as MemberObject).metadata, resourceVersion: '99' } });
  const event = h.store.apply('MODIFIED', stale, 'watch', T0);
  if (event) h.reconciler.observe(event);
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue']);
  assert.deepEqual(h.api.requests.slice(-3), [`POST event ${WELCOMED}`, `GET event ${WELCOMED}`, 'GET patrick']);
});

test('another process committed the announcement: no line here, only the record', async () => {
  const h = harness();
  welcomedPatrick(h, { deletionTimestamp: T0 });
  h.api.addEvent('uid-patrick.farewell', { at: T0, generation: 1 });
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, []);
  assert.equal(h.api.objects.has('patrick'), false);
});

test('moves are named after the announcement they continue: one per team announced, in a chain', async () => {
  const h = harness();
  welcomedPatrick(h);
  h.api.touch('patrick', (o) => {
    o.spec = { memberOf: 'red' };
  });
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  const first = h.api.objects.get('patrick')?.status?.announcedAt as string;
  h.api.touch('patrick', (o) => {
    o.spec = { memberOf: 'green' };
  });
  h.seen('patrick');
  await h.settle();
  assert.deepEqual(h.announced, ['Moved patrick red from blue', 'Moved patrick green from red']);
  assert.deepEqual(
    h.api.requests.filter((r) => r.startsWith('POST')),
    [`POST event uid-patrick.moved.${Date.parse(T0)}`, `POST event uid-patrick.moved.${Date.parse(first)}`],
  );
});

test('a move made but not recorded by another process: the team it announced is the one the next move leaves', async () => {
  const h = harness();
  welcomedPatrick(h);
  h.api.touch('patrick', (o) => {
    o.spec = { memberOf: 'green' };
  });
  const at = '2026-11-25T10:00:05.000Z';
  h.api.addEvent(`uid-patrick.moved.${Date.parse(T0)}`, { team: 'red', at, generation: 2 });
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Moved patrick green from red']);
  assert.ok(h.api.requests.includes(`POST event uid-patrick.moved.${Date.parse(at)}`), h.api.requests.join(', '));
});

test('a team back to the one recorded: the move another process made meanwhile is found, and undone by a move', async () => {
  const h = harness();
  welcomedPatrick(h);
  h.api.touch('patrick', (o) => {
    o.spec = { memberOf: 'red' };
  });
  h.api.touch('patrick', (o) => {
    o.spec = { memberOf: 'blue' };
  });
  h.api.addEvent(`uid-patrick.moved.${Date.parse(T0)}`, { team: 'red', at: '2026-11-25T10:00:05.000Z', generation: 2 });
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Moved patrick blue from red']);
  assert.equal(h.api.objects.get('patrick')?.status?.observedGeneration, 3);
});

test('a team back to the one recorded, with no move made meanwhile: observedGeneration alone, silently', async () => {
  const h = harness();
  welcomedPatrick(h);
  h.api.touch('patrick', (o) => {
    o.spec = { memberOf: 'red' };
  });
  h.api.touch('patrick', (o) => {
    o.spec = { memberOf: 'blue' };
  });
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, []);
  assert.deepEqual(h.api.requests, [`GET event uid-patrick.moved.${Date.parse(T0)}`, 'PATCH patrick/status']);
});

test('a member deleted before its welcome was recorded, whose Welcomed Event exists, is seen off', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER], deletionTimestamp: T0 });
  h.api.addEvent(WELCOMED, { team: 'blue', at: T0, generation: 1 });
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Farewell patrick blue']);
  assert.equal(h.api.objects.has('patrick'), false);
});

test('a welcomed member the API server deleted past the finalizer (added while the delete was under way) is seen off', async () => {
  for (const refused of [undefined, 403]) {
    const h = harness();
    welcomedPatrick(h);
    h.seen('patrick');
    h.api.add('ann', 'red', { finalizers: [FINALIZER] });
    h.seen('ann');
    h.reconciler.start(acting(h));
    await h.settle();
    assert.deepEqual(h.announced, ['Welcomed ann red']);
    // kubernetes#77988: the delete read them before their finalizer, and removed them with it (no deletionTimestamp).
    h.api.refuseEvents = refused;
    for (const name of ['patrick', 'ann']) {
      h.api.objects.delete(name);
      h.deleted(name);
    }
    await h.settle();
    assert.deepEqual(h.announced, ['Welcomed ann red', 'Farewell patrick blue', 'Farewell ann red'], String(refused));
  }
});

test('a deletion a relist finds, whose last cached state holds the finalizer, is no goodbye: the member may have been seen off meanwhile', async () => {
  const h = harness();
  welcomedPatrick(h);
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  h.api.objects.delete('patrick');
  for (const event of h.store.reconcile([], T0)) h.reconciler.observe(event);
  await h.settle();
  assert.deepEqual(h.announced, []);
});

test('a member deleted before anyone welcomed it is let go silently', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER], deletionTimestamp: T0 });
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, []);
  assert.deepEqual(h.api.requests, [`GET event ${WELCOMED}`, 'PATCH patrick']);
});

test('Events refused: the status write commits the welcome, the finalizer removal the goodbye; a lost answer is settled by a read', async () => {
  const h = harness();
  h.api.refuseEvents = 403;
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.seen('patrick');
  h.api.failNext(/^PATCH patrick\/status/, 'lose-answer');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue']);
  h.api.touch('patrick', (o) => {
    o.metadata.deletionTimestamp = T0;
  });
  h.seen('patrick');
  h.api.failNext(/^PATCH patrick$/, 'lose-answer');
  await h.settle();
  h.deleted('patrick');
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue', 'Farewell patrick blue']);
  assert.deepEqual(h.refused, ['Welcomed patrick: refused (HTTP 403)', 'Farewell patrick: refused (HTTP 403)']);
  assert.deepEqual(h.api.eventsOf('patrick'), []);
});

test('Events refused where the Event exists (a namespace being deleted): it counts as made', async () => {
  const h = harness();
  welcomedPatrick(h, { deletionTimestamp: T0 });
  h.api.addEvent('uid-patrick.farewell', { at: T0, generation: 1, instance: IDENTITY });
  h.api.refuseEvents = 403;
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, []);
  assert.deepEqual(h.refused, []);
  assert.equal(h.api.objects.has('patrick'), false);
});

test('a member whose writes keep failing is retried without holding up the others', async () => {
  const h = harness({ concurrency: 1 });
  h.api.add('alice', 'blue');
  h.api.add('bob', 'red');
  h.seen('alice');
  h.seen('bob');
  h.api.broken.add('alice');
  h.reconciler.start(acting(h));
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(h.announced, ['Welcomed bob red']);
  assert.ok(h.failures.length >= 2, `alice retried: ${h.failures.join('; ')}`);
  h.api.broken.delete('alice');
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed bob red', 'Welcomed alice blue']);
});

test('nothing is written before acting starts, nor after it ends', async () => {
  const h = harness();
  h.api.add('patrick', 'blue');
  h.seen('patrick');
  await h.settle();
  assert.deepEqual(h.api.requests, []);
  h.scope.abort();
  h.reconciler.start({ signal: h.scope.signal, mayAct: () => true });
  assert.equal(h.reconciler.backlog, 0, 'nothing queued for a scope that has ended');
  await h.settle();
  assert.deepEqual(h.api.requests, []);
});

test('a scope past its deadline writes nothing even before its signal says so', async () => {
  const h = harness();
  h.api.add('patrick', 'blue');
  h.seen('patrick');
  h.reconciler.start({ signal: h.scope.signal, mayAct: () => false });
  await h.settle();
  assert.deepEqual(h.api.requests, []);
});

test('the echoes of our own writes, arriving late, start no other reconcile', async () => {
  const h = harness();
  h.api.add('patrick', 'blue');
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  const before = h.api.requests.length;
  // The finalizer's version shows no welcome yet: taken for news, it would make the operator write again.
  for (const object of h.api.written) {
    const event = h.store.apply('MODIFIED', operatorMember(object), 'watch', T0);
    if (event) h.reconciler.observe(event);
  }
  await h.settle();
  assert.deepEqual(h.api.requests.slice(before), []);
});

test('without the finalizer, a welcomed member that is deleted gets its goodbye from the deletion, committed by its Event', async () => {
  const h = harness({ useFinalizer: false });
  h.api.add('patrick', 'blue');
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.api.requests, [`POST event ${WELCOMED}`, 'PATCH patrick/status']);
  h.seen('patrick');
  h.api.objects.delete('patrick');
  h.deleted('patrick');
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue', 'Farewell patrick blue']);
  assert.deepEqual(h.api.requests.slice(2), ['POST event uid-patrick.farewell']);
});

test('without the finalizer, a goodbye another replica made is not said again; one welcomed by an Event alone is said', async () => {
  const h = harness({ useFinalizer: false });
  h.api.add('patrick', 'blue');
  h.api.add('ann', 'red');
  h.api.addEvent('uid-patrick.welcomed', { team: 'blue', at: T0, generation: 1 });
  h.api.addEvent('uid-patrick.farewell', { at: T0, generation: 1 });
  h.api.addEvent('uid-ann.welcomed', { team: 'red', at: T0, generation: 1, member: 'ann' });
  h.api.broken.add('patrick');
  h.api.broken.add('ann');
  h.seen('patrick');
  h.seen('ann');
  h.reconciler.start(acting(h));
  await new Promise((r) => setTimeout(r, 20));
  for (const name of ['patrick', 'ann']) {
    h.api.objects.delete(name);
    h.deleted(name);
  }
  await h.settle();
  assert.deepEqual(h.announced, ['Farewell ann red']);
});

test('the store hands the operator its members and the size of each namespace', () => {
  const store = new MemberStore<OperatorMember>();
  store.apply('ADDED', member({ name: 'a' }), 'watch', T0);
  store.apply('ADDED', member({ name: 'b' }), 'watch', T0);
  store.apply('ADDED', member({ name: 'c', namespace: 'other', uid: 'u3' }), 'watch', T0);
  assert.deepEqual([...store.values()].map((m) => `${m.namespace}/${m.name}`).sort(), ['crew/a', 'crew/b', 'other/c']);
  assert.deepEqual(
    new Map(store.namespaceSizes()),
    new Map([
      ['crew', 2],
      ['other', 1],
    ]),
  );
  assert.equal(store.get('crew', 'b')?.announcedAt, T0);
});

test('a status subresource that is not served is said, not taken for a deletion', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.api.noStatus = true;
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await new Promise((r) => setTimeout(r, 30));
  assert.match(h.failures[0] ?? '', /^patrick: the Member CRD serves no status subresource: upgrade it with `member-watch install-crd`$/);
  h.scope.abort();
});

test("an identity fits an Event's reportingInstance with its UUID, however long the pod's name", () => {
  const long = defaultIdentity({ POD_NAME: 'p'.repeat(253) });
  assert.equal(long.length, INSTANCE_MAX);
  assert.match(long, /^p+_[0-9a-f-]{36}$/);
  assert.match(defaultIdentity({ POD_NAME: 'member-watch-5d9c' }), /^member-watch-5d9c_[0-9a-f-]{36}$/);
});
