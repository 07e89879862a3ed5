import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoordinationV1Api, type V1LeaseSpec, V1MicroTime } from '@kubernetes/client-node';
import { startHttpFaultProxy } from '../harness/http-fault-proxy.js';
import {
  announced,
  FAST_ELECTION,
  FINALIZER,
  freePort,
  httpGet,
  kubeEvents,
  killAll,
  type LogEntry,
  type Operator,
  memberStatus,
  parsePrometheus,
  startOperator,
  stopOperator,
} from './operator-support.js';
import { GROUP, useControlPlane, waitFor } from './support.js';

// Issue 16's findings 1 to 3: each failed on the operator that committed announcements by its status writes alone.

const env = useControlPlane();
const writes = (method: string): boolean => method !== 'GET';

/** Every announcement of these replicas, as `event name`, and the ones said more than once. */
function repeats(ops: Operator[], ns: string, event: string): string[] {
  const said = ops.flatMap((op) => op.entries().filter((e) => e.event === event && e.namespace === ns)).map((e) => `${e.event} ${e.name}`);
  return said.filter((a, i) => said.indexOf(a) !== i);
}

async function eventsOf(ns: string, reason: string): Promise<string[]> {
  return (await kubeEvents(env, ns)).filter((e) => e.reason === reason).map((e) => String(e.involvedObject.name));
}

test('finding 1: a goodbye whose write was reset before it was sent is said once, though the retry succeeds and the member is then gone', async () => {
  const ns = await env.cluster.createNamespace('of-reset');
  const names = ['r1', 'r2', 'r3'];
  for (const name of names) await env.createMember(ns, name, 'blue');
  const proxy = await startHttpFaultProxy(env.cp);
  const op = startOperator(env, ['--watch-namespace', ns], { kubeconfig: proxy.kubeconfig });
  try {
    for (const name of names) await op.waitFor(announced('Welcomed', name));
    await waitFor('the welcomes recorded', async () => ((await eventsOf(ns, 'Welcomed')).length === 3 ? true : undefined));
    // Whatever a goodbye's first write is, it is reset: the operator cannot know whether it was applied.
    proxy.resetNext(names.length, writes);
    for (const name of names) await env.deleteMember(ns, name);
    for (const name of names) await op.waitFor(announced('Farewell', name));
    await waitFor('the members gone', async () => {
      for (const name of names) if ((await env.getMember(ns, name)) !== undefined) return undefined;
      return true;
    });
    // Time for a second goodbye to show, had one been owed: the DELETED events have come by now.
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual(repeats([op], ns, 'Farewell'), [], op.announcements(ns).join(', '));
    assert.deepEqual((await eventsOf(ns, 'Farewell')).sort(), names);
    await stopOperator(op);
  } finally {
    await killAll([op]);
    await proxy.close();
  }
});

interface Term {
  op: Operator;
  from: number;
  to: number;
}

/** When each replica acted, from its own log (one clock: one machine). */
function terms(ops: Operator[]): Term[] {
  const all: Term[] = [];
  for (const op of ops) {
    let from: number | undefined;
    for (const e of op.entries()) {
      if (e.event === 'Leading') from = Date.parse(e.time);
      if (e.event === 'StoppedLeading' && from !== undefined) {
        all.push({ op, from, to: Date.parse(e.time) });
        from = undefined;
      }
    }
    if (from !== undefined) all.push({ op, from, to: Number.POSITIVE_INFINITY });
  }
  return all;
}

function overlaps(all: Term[]): string[] {
  const found: string[] = [];
  for (const a of all) {
    for (const b of all) {
      if (a.op !== b.op && a.from < b.from && b.from < a.to)
        found.push(`${b.op.identity()} led at ${b.from} while ${a.op.identity()} led until ${a.to}`);
    }
  }
  return found;
}

test('finding 2: the Lease deleted by hand: never two replicas acting at once, and no goodbye twice without the finalizer', async () => {
  const ns = await env.cluster.createNamespace('of-lease');
  const names = Array.from({ length: 8 }, (_, i) => `l${i}`);
  for (const name of names) await env.createMember(ns, name, 'blue');
  const election = ['--watch-namespace', ns, '--leader-elect', '--leader-election-namespace', ns, '--no-finalizer'];
  // The leader renews every 2 s; the standby asks every 0.2 s: it finds the Lease gone long before the leader does.
  const retrying = (period: string): string[] => [
    ...election,
    '--leader-elect-lease-duration',
    '4s',
    '--leader-elect-renew-deadline',
    '3s',
    '--leader-elect-retry-period',
    period,
  ];
  const leases = env.cluster.kc.makeApiClient(CoordinationV1Api);
  const leader = startOperator(env, retrying('2s'));
  const ops = [leader];
  try {
    await leader.waitFor((e) => e.event === 'Leading');
    for (const name of names) await leader.waitFor(announced('Welcomed', name));
    const standby = startOperator(env, retrying('200ms'));
    ops.push(standby);
    await standby.waitFor((e) => e.event === 'LeaderChanged' && e.leader === leader.identity());
    // Right after a renewal: the leader's next one is a whole retry period away.
    const renewed = (await leases.readNamespacedLease({ name: 'member-watch', namespace: ns })).spec?.renewTime;
    await waitFor('a renewal', async () => {
      const lease = await leases.readNamespacedLease({ name: 'member-watch', namespace: ns });
      return String(lease.spec?.renewTime) !== String(renewed) ? true : undefined;
    });
    await leases.deleteNamespacedLease({ name: 'member-watch', namespace: ns });
    for (const name of names) {
      await env.deleteMember(ns, name);
      await new Promise((r) => setTimeout(r, 200));
    }
    await waitFor('one leader again', () => (terms(ops).filter((t) => t.to === Number.POSITIVE_INFINITY).length === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(overlaps(terms(ops)), []);
    assert.deepEqual(repeats(ops, ns, 'Farewell'), []);
    for (const op of ops) await stopOperator(op);
  } finally {
    await killAll(ops);
  }
});

test('finding 3: a leader partitioned right after its welcome reached the server: the welcome is told once, as an Event and in a log', async (t) => {
  const ns = await env.cluster.createNamespace('of-split');
  const proxy = await startHttpFaultProxy(env.cp);
  const election = ['--watch-namespace', ns, '--leader-elect', '--leader-election-namespace', ns, ...FAST_ELECTION];
  const cutOff = startOperator(env, election, { kubeconfig: proxy.kubeconfig });
  const ops = [cutOff];
  try {
    await cutOff.waitFor((e) => e.event === 'Leading');
    const standby = startOperator(env, election);
    ops.push(standby);
    await standby.waitFor((e) => e.event === 'LeaderChanged' && e.leader === cutOff.identity());
    // The welcome's commit (whichever write that is) reaches the API server; its answer, and all after it, do not.
    const partition = proxy.partitionAt(
      (method, path) => (method === 'PATCH' && path.endsWith('/members/p1/status')) || (method === 'POST' && path.endsWith('/events')),
    );
    await env.createMember(ns, 'p1', 'blue');
    await partition.started;
    await standby.waitFor((e) => e.event === 'Leading', { timeoutMs: 30_000 });
    await waitFor('p1 welcomed in its status', async () => ((await memberStatus(env, ns, 'p1'))?.status?.announcedAt ? true : undefined));
    partition.heal();
    await cutOff.waitFor((e) => e.event === 'LeaderChanged' && e.leader === standby.identity(), { timeoutMs: 40_000 });
    const told = await waitFor(
      'the welcome of p1 told',
      () => {
        const lines = ops.flatMap((op) => op.entries().filter(announced('Welcomed', 'p1')));
        return lines.length > 0 ? lines : undefined;
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const welcomes: LogEntry[] = ops.flatMap((op) => op.entries().filter(announced('Welcomed', 'p1')));
    assert.equal(welcomes.length, 1, `welcomed ${welcomes.length} times (first: ${JSON.stringify(told[0])})`);
    assert.deepEqual(await eventsOf(ns, 'Welcomed'), ['p1']);
    const teller = cutOff.entries().some(announced('Welcomed', 'p1')) ? 'the cut-off leader, late' : 'the new leader';
    t.diagnostic(`the welcome was told by ${teller}`);
    for (const op of ops) await stopOperator(op);
  } finally {
    await killAll(ops);
    await proxy.close();
  }
});

/** Holds the Lease as `stranger` (renewed every 0.5 s) until the returned function is called. */
async function strangerHolds(namespace: string): Promise<() => Promise<void>> {
  const leases = env.cluster.kc.makeApiClient(CoordinationV1Api);
  const name = 'member-watch';
  const spec = (): V1LeaseSpec => ({
    holderIdentity: 'stranger',
    leaseDurationSeconds: 4,
    acquireTime: new V1MicroTime(),
    renewTime: new V1MicroTime(),
  });
  await leases.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec() } });
  let holding = true;
  const renewing = (async (): Promise<void> => {
    while (holding) {
      await new Promise((r) => setTimeout(r, 500));
      const current = await leases.readNamespacedLease({ namespace, name });
      await leases.replaceNamespacedLease({ namespace, name, body: { ...current, spec: spec() } });
    }
  })();
  return async () => {
    holding = false;
    await renewing;
  };
}

test('a standby that takes over while its watch is down acts once it streams again: a member let go meanwhile is not welcomed after it is gone', async () => {
  const ns = await env.cluster.createNamespace('of-stale');
  const letGo = await strangerHolds(ns);
  const proxy = await startHttpFaultProxy(env.cp);
  const port = await freePort();
  const args = ['--watch-namespace', ns, '--leader-elect', '--leader-election-namespace', ns, ...FAST_ELECTION];
  const op = startOperator(env, [...args, '--metrics-bind-address', `127.0.0.1:${port}`], { kubeconfig: proxy.kubeconfig });
  const members = async (): Promise<number | undefined> =>
    parsePrometheus((await httpGet(`http://127.0.0.1:${port}/metrics`)).body).get(`member_watch_members{namespace="${ns}"}`);
  try {
    await op.waitFor((e) => e.event === 'LeaderChanged' && e.leader === 'stranger');
    // Held by the finalizer as the last leader left it, not welcomed: the standby's cache shows it so.
    await env.createMember(ns, 'ghost', 'blue');
    await env.cluster.custom.patchNamespacedCustomObject({
      ...{ group: GROUP, version: 'v1', plural: 'members', namespace: ns, name: 'ghost' },
      body: [{ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] }],
    });
    await waitFor('the standby to see ghost held', async () => ((await members()) === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1_000));
    // Its watch goes down and stays down (the Lease still gets through); meanwhile ghost is deleted and let go.
    proxy.resetNext(Number.MAX_SAFE_INTEGER, (_method, path) => path.includes('/members'));
    proxy.inject(undefined);
    await op.waitFor((e) => e.event === 'Reconnecting');
    await env.deleteMember(ns, 'ghost');
    const released = await env.cli(['-n', ns, 'release-finalizers']);
    assert.equal(released.code, 0, released.stderr);
    assert.equal(await env.getMember(ns, 'ghost'), undefined);
    await letGo();
    await op.waitFor((e) => e.event === 'Leading', { timeoutMs: 15_000 });
    // Leading with a watch that is down: time enough to act on what the cache shows, had it not waited.
    await new Promise((r) => setTimeout(r, 3_000));
    proxy.resetNext(0, () => false);
    await env.createMember(ns, 'alive', 'red');
    await op.waitFor(announced('Welcomed', 'alive'), { timeoutMs: 60_000 });
    assert.deepEqual(op.announcements(ns), ['Welcomed alive red']);
    assert.deepEqual(await eventsOf(ns, 'Welcomed'), ['alive']);
    await stopOperator(op);
  } finally {
    await killAll([op]);
    await letGo();
    await proxy.close();
  }
});

test('uninstall-crd while an operator runs: no finalizer comes back; each member is seen off by the operator or let go by uninstall-crd, as counted', async () => {
  const ns = await env.cluster.createNamespace('of-uninstall');
  const names = Array.from({ length: 21 }, (_, i) => `u${i}`);
  for (const name of names) await env.createMember(ns, name, 'blue');
  const op = startOperator(env, ['--watch-namespace', ns]);
  try {
    for (const name of names) await op.waitFor(announced('Welcomed', name));
    // The CRD goes for every namespace: members held in those of the tests before, with no operator, are let go by uninstall-crd.
    const all = (await env.cluster.custom.listClusterCustomObject({ group: GROUP, version: 'v1', plural: 'members' })) as {
      items: Array<{ metadata: { namespace: string; finalizers?: string[] } }>;
    };
    const elsewhere = all.items.filter((m) => m.metadata.namespace !== ns && (m.metadata.finalizers ?? []).includes(FINALIZER)).length;
    const uninstalled = await env.cli(['uninstall-crd', '--yes']);
    assert.equal(uninstalled.code, 0, uninstalled.stderr);
    const removed = [...uninstalled.stdout.matchAll(/removed from (\d+) members?/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    const others = Number(/^(\d+) members? let go meanwhile by someone else/m.exec(uninstalled.stderr)?.[1] ?? 0);
    const farewells = op.entries().filter((e) => e.event === 'Farewell' && e.namespace === ns).length;
    // A finalizer put back after uninstall-crd removed it would be removed twice, or hold the deletion for ever.
    assert.equal(
      removed + farewells,
      names.length + elsewhere,
      `${uninstalled.stdout}${uninstalled.stderr}${op
        .entries()
        .filter((e) => e.level !== 'info' || e.event === 'Farewell')
        .map((e) => e.msg)
        .join('\n')}`,
    );
    assert.equal(others, farewells, uninstalled.stderr);
    assert.deepEqual(repeats([op], ns, 'Farewell'), []);
    await op.waitFor((e) => e.event === 'WaitingForCRD');
    await stopOperator(op);
  } finally {
    await killAll([op]);
  }
});
