import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { announced, killAll, type Operator, startOperator, stopOperator } from './operator-support.js';
import { useControlPlane, waitFor } from './support.js';

// Issue 16's findings: each of these tests failed on the operator before the fix it comes with.

const env = useControlPlane();

/** Every announcement of these replicas, as `event name`, and the ones said more than once. */
function repeats(ops: Operator[], ns: string, event: string): string[] {
  const said = ops.flatMap((op) => op.entries().filter((e) => e.event === event && e.namespace === ns)).map((e) => `${e.event} ${e.name}`);
  return said.filter((a, i) => said.indexOf(a) !== i);
}

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
