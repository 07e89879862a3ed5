import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kube } from '../../src/kube/client.js';
import { type ApiRequest, ApiError, NetworkError } from '../../src/kube/http.js';
import { FINALIZER, type MemberObject } from '../../src/members/resource.js';
import { decide, ONLY_OURS, type OperatorMember, operatorMember } from '../../src/operator/member.js';
import { type ActingScope, Reconciler } from '../../src/operator/reconciler.js';
import { MemberStore } from '../../src/watcher/store.js';

const T0 = '2026-11-25T10:00:00.000Z';

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

/** An in-memory stand-in for the member endpoints, with resourceVersion preconditions, and answers that can be lost. */
class FakeMembers {
  readonly objects = new Map<string, MemberObject>();
  readonly requests: string[] = [];
  /** Every version a PATCH produced, as the watch would deliver them. */
  readonly written: MemberObject[] = [];
  /** The next PATCH is applied, then its answer lost. */
  loseNextAnswer = false;
  /** PATCHes of these names fail with 500 before anything is applied. */
  readonly broken = new Set<string>();
  /** An old CRD: the status subresource is not served, and the API server says so with a 404 naming the member. */
  noStatus = false;
  private rv = 100;

  add(name: string, team: string | undefined, over: Partial<MemberObject['metadata']> = {}): MemberObject {
    const object: MemberObject = {
      apiVersion: 'helloworld.apimeister.com/v1',
      kind: 'Member',
      metadata: { name, namespace: 'crew', uid: `uid-${name}`, resourceVersion: String(++this.rv), generation: 1, ...over },
      spec: team === undefined ? {} : { memberOf: team },
    };
    this.objects.set(name, object);
    return structuredClone(object);
  }

  /** Another writer changes the member: the operator's next conditional write hits 409. */
  touch(name: string, change: (o: MemberObject) => void): void {
    const object = this.objects.get(name) as MemberObject;
    change(object);
    object.metadata.resourceVersion = String(++this.rv);
  }

  async json<T>(req: ApiRequest): Promise<T> {
    const [, name, sub] = /\/members\/([^/?]+)(\/status)?$/.exec(req.path) ?? [];
    this.requests.push(`${req.method} ${name ?? ''}${sub ?? ''}`);
    const object = this.objects.get(name ?? '');
    if (object === undefined) throw new ApiError({ status: 404, reason: 'NotFound', message: 'not found', objectName: name });
    if (req.method === 'GET') return structuredClone(object) as T;
    this.refuse(object, sub !== undefined);
    const patch = req.body as { metadata: { resourceVersion: string; finalizers?: string[] | null }; status?: Record<string, unknown> };
    if (patch.metadata.resourceVersion !== object.metadata.resourceVersion)
      throw new ApiError({ status: 409, reason: 'Conflict', message: 'modified' });
    this.apply(object, patch, sub !== undefined);
    this.written.push(structuredClone(object));
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new NetworkError('ECONNRESET', 'socket hang up');
    }
    return structuredClone(object) as T;
  }

  /** Failures made on purpose, before anything is applied. */
  private refuse(object: MemberObject, status: boolean): void {
    const name = object.metadata.name;
    if (this.broken.has(name)) throw new ApiError({ status: 500, reason: 'InternalError', message: 'etcd is sad' });
    if (this.noStatus && status) throw new ApiError({ status: 404, reason: 'NotFound', message: 'not found', objectName: name });
  }

  private apply(
    object: MemberObject,
    patch: { metadata: { finalizers?: string[] | null }; status?: Record<string, unknown> },
    status: boolean,
  ): void {
    if (status) object.status = { ...object.status, ...patch.status };
    else if ('finalizers' in patch.metadata) object.metadata.finalizers = patch.metadata.finalizers ?? undefined;
    object.metadata.resourceVersion = String(++this.rv);
    if (object.metadata.deletionTimestamp !== undefined && (object.metadata.finalizers ?? []).length === 0)
      this.objects.delete(object.metadata.name);
  }
}

interface Harness {
  api: FakeMembers;
  store: MemberStore<OperatorMember>;
  announced: string[];
  failures: string[];
  reconciler: Reconciler;
  scope: AbortController;
  /** Puts the member's current object into the cache, as a watch event would, and tells the reconciler. */
  seen(name: string): void;
  settle(): Promise<void>;
}

function harness(options: { concurrency?: number; useFinalizer?: boolean } = {}): Harness {
  const api = new FakeMembers();
  const store = new MemberStore<OperatorMember>();
  const announced: string[] = [];
  const failures: string[] = [];
  const kube = { http: api } as unknown as Kube;
  let clock = Date.parse(T0);
  const reconciler = new Reconciler(
    kube,
    store,
    {
      useFinalizer: options.useFinalizer ?? true,
      concurrency: options.concurrency ?? 4,
      retry: { initialMs: 5, maxMs: 5, healthyMs: 1e9 },
      now: () => new Date(clock++),
    },
    {
      announce: (a) => announced.push(`${a.kind} ${a.member.name}${a.member.team === undefined ? '' : ` ${a.member.team}`}`),
      failed: (_ns, name, reason) => failures.push(`${name}: ${reason}`),
      finished: () => undefined,
    },
  );
  const scope = new AbortController();
  const h: Harness = {
    api,
    store,
    announced,
    failures,
    reconciler,
    scope,
    seen(name) {
      const object = api.objects.get(name);
      if (object === undefined) return;
      const event = store.apply('MODIFIED', operatorMember(structuredClone(object)), 'watch', T0);
      if (event) reconciler.observe(event);
    },
    async settle() {
      for (let i = 0; i < 200 && reconciler.backlog > 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    },
  };
  return h;
}

const acting = (h: Harness): ActingScope => ({ signal: h.scope.signal, mayAct: () => true });

test('a new member gets the finalizer, then its welcome, committed in its status', async () => {
  const h = harness();
  h.api.add('patrick', 'blue');
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue']);
  assert.deepEqual(h.api.requests, ['PATCH patrick', 'PATCH patrick/status']);
  const object = h.api.objects.get('patrick');
  assert.deepEqual(object?.metadata.finalizers, [FINALIZER]);
  assert.equal(object?.status?.announcedTeam, 'blue');
});

test('a 409 re-reads the member: a welcome another writer committed is not repeated', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.seen('patrick');
  h.api.touch('patrick', (o) => {
    o.status = { announcedTeam: 'blue', announcedAt: T0, observedGeneration: 1 };
  });
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, []);
  assert.deepEqual(h.api.requests, ['PATCH patrick/status', 'GET patrick']);
});

test('a 409 re-reads the member and decides again from what it is now', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.seen('patrick');
  h.api.touch('patrick', (o) => {
    o.spec = { memberOf: 'red' };
  });
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick red']);
});

test('a welcome whose answer was lost is logged once, recognised by its announcedAt', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER] });
  h.seen('patrick');
  h.api.loseNextAnswer = true;
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Welcomed patrick blue']);
  assert.equal(h.failures.length, 1);
  // The cache still shows the member unwelcomed; the retry read it fresh instead of writing again.
  assert.deepEqual(h.api.requests, ['PATCH patrick/status', 'GET patrick']);
});

test('a goodbye whose answer was lost is logged once the member is gone', async () => {
  const h = harness();
  h.api.add('patrick', 'blue', { finalizers: [FINALIZER], deletionTimestamp: T0 });
  h.api.touch('patrick', (o) => {
    o.status = { announcedTeam: 'blue', announcedAt: T0, observedGeneration: 1 };
  });
  h.seen('patrick');
  h.api.loseNextAnswer = true;
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.announced, ['Farewell patrick blue']);
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

test('without the finalizer, a welcomed member that is deleted gets its goodbye from the deletion itself', async () => {
  const h = harness({ useFinalizer: false });
  h.api.add('patrick', 'blue');
  h.seen('patrick');
  h.reconciler.start(acting(h));
  await h.settle();
  assert.deepEqual(h.api.requests, ['PATCH patrick/status']);
  h.seen('patrick');
  const last = h.store.get('crew', 'patrick') as OperatorMember;
  const gone = h.store.apply('DELETED', last, 'watch', T0);
  if (gone) h.reconciler.observe(gone);
  assert.deepEqual(h.announced, ['Welcomed patrick blue', 'Farewell patrick blue']);
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
  assert.deepEqual(h.announced, []);
  assert.match(h.failures[0] ?? '', /^patrick: the Member CRD serves no status subresource: upgrade it with `member-watch install-crd`$/);
  h.scope.abort();
});
