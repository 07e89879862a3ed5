// What a real cluster's controller manager does to Members: a namespace deleted with Members in it (the operator
// running, stopped, or its own namespace gone first), and Members deleted by the garbage collector because their
// owner went. Every member that was welcomed is seen off exactly once, or the namespace is released by
// `release-finalizers`; no namespace stays Terminating because of the operator once it, or that command, has acted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { needsControllerManager } from '../harness/requirements.js';
import { announced, FINALIZER, killAll, type LogEntry, type Operator, startOperator, stopOperator } from './operator-support.js';
import { GROUP, type TestEnv, useControlPlane, waitFor } from './support.js';

/** A namespace's deletion or a garbage collection takes the controller manager a few seconds, more on a loaded machine. */
const CONTROLLERS_MS = 90_000;

interface NamespaceCondition {
  type?: string;
  status?: string;
  message?: string;
}

const CONTROLLER_MANAGER = needsControllerManager();
// Each test says why it is skipped (a skipped describe() would not be counted as skipped); no server where all are.
const env = CONTROLLER_MANAGER.skip === undefined ? useControlPlane() : ({} as TestEnv);

test(
  'a namespace deleted while the operator runs: each welcomed member is seen off once, and the namespace goes',
  CONTROLLER_MANAGER,
  async () => {
    const ns = await namespaceWith(env, 'ns-running', ['ann', 'bob', 'cid']);
    const op = startOperator(env, []);
    try {
      await welcomed(op, ns, 3);
      await env.cluster.core.deleteNamespace({ name: ns });
      await namespaceGone(env, ns);
      assert.deepEqual(farewells(op, ns), ['ann', 'bob', 'cid']);
      // The API server takes no new Event in a namespace being deleted: the finalizer's removal commits the goodbye,
      // and the log line is its record.
      await op.waitFor((e) => e.event === 'EventRefused' && e.namespace === ns, { count: 3 });
      await stopOperator(op);
      assert.deepEqual(farewells(op, ns), ['ann', 'bob', 'cid'], 'no goodbye twice');
    } finally {
      await killAll([op]);
    }
  },
);

test(
  'a namespace deleted while no operator runs waits, Terminating, naming the finalizer; the next operator sees each off once',
  CONTROLLER_MANAGER,
  async () => {
    const ns = await namespaceWith(env, 'ns-stopped', ['dan', 'eve']);
    const first = startOperator(env, []);
    let second: Operator | undefined;
    try {
      await welcomed(first, ns, 2);
      await stopOperator(first);
      await env.cluster.core.deleteNamespace({ name: ns });
      await heldByTheFinalizer(env, ns);
      second = startOperator(env, []);
      await namespaceGone(env, ns);
      assert.deepEqual(farewells(second, ns), ['dan', 'eve']);
      assert.deepEqual(welcomes(second, ns), [], 'the second operator welcomes nobody again');
      await stopOperator(second);
      assert.deepEqual(farewells(first, ns), []);
    } finally {
      await killAll(second ? [first, second] : [first]);
    }
  },
);

test(
  "the operator's own namespace deleted first: it stops leading, and release-finalizers is the way out for the members' namespace",
  CONTROLLER_MANAGER,
  async () => {
    const own = await env.cluster.createNamespace('operator-home');
    const ns = await namespaceWith(env, 'ns-orphaned', ['fay', 'gus']);
    const op = startOperator(env, ['--leader-elect', '--leader-election-namespace', own, ...QUICK_ELECTION]);
    try {
      await op.waitFor((e) => e.event === 'Leading');
      await welcomed(op, ns, 2);
      await env.cluster.core.deleteNamespace({ name: own });
      await namespaceGone(env, own);
      // Its Lease went with the namespace, and no Lease can be made there again: it must not act any more.
      await op.waitFor((e) => e.event === 'StoppedLeading', { timeoutMs: CONTROLLERS_MS });
      await env.cluster.core.deleteNamespace({ name: ns });
      await heldByTheFinalizer(env, ns);
      assert.deepEqual(farewells(op, ns), [], 'an operator that does not lead says no goodbye');

      const released = await env.cli(['release-finalizers', '-n', ns]);
      assert.equal(released.code, 0, released.stderr);
      assert.equal(released.stdout, `finalizer ${FINALIZER} removed from 2 members\n`);
      await namespaceGone(env, ns);
      assert.deepEqual(farewells(op, ns), [], 'released, not seen off');
      await stopOperator(op);
    } finally {
      await killAll([op]);
    }
  },
);

test(
  'members whose owner is deleted, in the background or the foreground, are seen off once by the garbage collector',
  CONTROLLER_MANAGER,
  async () => {
    const ns = await env.cluster.createNamespace('owned');
    await collectsMembers(env, ns);
    const op = startOperator(env, ['--watch-namespace', ns]);
    try {
      for (const propagationPolicy of ['Background', 'Foreground']) {
        const owner = await env.cluster.core.createNamespacedConfigMap({
          namespace: ns,
          body: { metadata: { name: `owner-${propagationPolicy.toLowerCase()}` } },
        });
        const ownerReference = {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          name: owner.metadata?.name ?? '',
          uid: owner.metadata?.uid ?? '',
          // in the foreground the owner waits for it: gone only after its goodbye
          blockOwnerDeletion: true,
        };
        const names = ['one', 'two'].map((n) => `${propagationPolicy.toLowerCase()}-${n}`);
        for (const name of names) await createOwnedMember(env, ns, name, ownerReference);
        for (const name of names) await op.waitFor((e) => announced('Welcomed', name)(e) && e.namespace === ns);
        await env.cluster.core.deleteNamespacedConfigMap({ namespace: ns, name: ownerReference.name, propagationPolicy });
        for (const name of names) await gone(() => env.getMember(ns, name), `member ${name}`);
        await gone(
          () => env.cluster.core.readNamespacedConfigMap({ namespace: ns, name: ownerReference.name }).catch(notFound),
          'the owner',
        );
        for (const name of names) assert.equal(op.entries().filter((e) => announced('Farewell', name)(e)).length, 1, name);
      }
      await stopOperator(op);
    } finally {
      await killAll([op]);
    }
  },
);

/** Leader election in a few seconds, not 15: a lost Lease is noticed within the test's patience. */
const QUICK_ELECTION = [
  '--leader-elect-lease-duration',
  '4s',
  '--leader-elect-renew-deadline',
  '3s',
  '--leader-elect-retry-period',
  '500ms',
];

async function namespaceWith(env: TestEnv, prefix: string, names: string[]): Promise<string> {
  const ns = await env.cluster.createNamespace(prefix);
  for (const [i, name] of names.entries()) await env.createMember(ns, name, i % 2 === 0 ? 'blue' : undefined);
  return ns;
}

async function welcomed(op: Operator, ns: string, count: number): Promise<void> {
  await op.waitFor((e) => e.event === 'Welcomed' && e.namespace === ns, { count });
}

function announcedIn(op: Operator, ns: string, event: string): string[] {
  return op
    .entries()
    .filter((e: LogEntry) => e.event === event && e.namespace === ns)
    .map((e) => String(e.name))
    .sort();
}

const farewells = (op: Operator, ns: string): string[] => announcedIn(op, ns, 'Farewell');
const welcomes = (op: Operator, ns: string): string[] => announcedIn(op, ns, 'Welcomed');

function notFound(err: unknown): undefined {
  if ((err as { code?: unknown }).code === 404) return undefined;
  throw err;
}

async function gone(read: () => Promise<unknown>, what: string): Promise<void> {
  await waitFor(`${what} to be gone`, async () => ((await read()) === undefined ? true : undefined), CONTROLLERS_MS);
}

async function namespaceGone(env: TestEnv, ns: string): Promise<void> {
  await gone(() => env.cluster.core.readNamespace({ name: ns }).catch(notFound), `namespace ${ns}`);
}

/** The namespace is Terminating, and says that our finalizer is what it waits for (as `kubectl describe ns` shows). */
async function heldByTheFinalizer(env: TestEnv, ns: string): Promise<void> {
  const condition = await waitFor(
    `namespace ${ns} to wait for finalizers`,
    async () => {
      const namespace = await env.cluster.core.readNamespace({ name: ns });
      const conditions = (namespace.status?.conditions ?? []) as NamespaceCondition[];
      return conditions.find((c) => c.type === 'NamespaceFinalizersRemaining' && c.status === 'True');
    },
    CONTROLLERS_MS,
  );
  assert.match(condition.message ?? '', new RegExp(`${FINALIZER.replace(/\./g, '\\.')} in \\d+ resource instances`));
  assert.equal((await env.cluster.core.readNamespace({ name: ns })).status?.phase, 'Terminating');
}

async function createOwnedMember(env: TestEnv, ns: string, name: string, ownerReference: object): Promise<void> {
  await env.cluster.custom.createNamespacedCustomObject({
    group: GROUP,
    version: 'v1',
    plural: 'members',
    namespace: ns,
    body: { apiVersion: `${GROUP}/v1`, kind: 'Member', metadata: { name, ownerReferences: [ownerReference] }, spec: {} },
  });
}

/**
 * The garbage collector learns of a new resource type by discovery every 30 s: until then it does not know that
 * Members can be owned. A member owned by a deleted ConfigMap, held by nobody, shows when it does.
 */
async function collectsMembers(env: TestEnv, ns: string): Promise<void> {
  const owner = await env.cluster.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'probe-owner' } } });
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'probe-owner', uid: owner.metadata?.uid ?? '' };
  await env.cluster.custom.createNamespacedCustomObject({
    group: GROUP,
    version: 'v1',
    plural: 'members',
    namespace: ns,
    body: { apiVersion: `${GROUP}/v1`, kind: 'Member', metadata: { name: 'probe', ownerReferences: [ref] }, spec: {} },
  });
  await env.cluster.core.deleteNamespacedConfigMap({ namespace: ns, name: 'probe-owner' });
  await gone(() => env.getMember(ns, 'probe'), 'a member whose owner was deleted');
}
