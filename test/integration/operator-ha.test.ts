import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTcpProxy } from '../harness/tcp-proxy.js';
import {
  announced,
  assertNoRepeats,
  FAST_ELECTION,
  FAST_LEASE_MS,
  FAST_RENEW_MS,
  FAST_RETRY_MS,
  killAll,
  type LogEntry,
  type Operator,
  startOperator,
  stopOperator,
} from './operator-support.js';
import { type TestEnv, useControlPlane, waitFor } from './support.js';

const env = useControlPlane();
/** Timers and processes on a loaded 2-CPU machine: what a handover may take beyond its protocol's bound. */
const SLACK_MS = 2_000;

function replica(ns: string, extra: string[] = FAST_ELECTION, opts: { kubeconfig?: string } = {}): Operator {
  return startOperator(env, ['--watch-namespace', ns, '--leader-elect', '--leader-election-namespace', ns, ...extra], opts);
}

const leading = (e: LogEntry): boolean => e.event === 'Leading';

/** The one replica that leads now: the last that logged Leading and has not logged StoppedLeading since. */
function leaderOf(ops: Operator[]): Operator | undefined {
  const current = ops.filter((op) => {
    const events = op.entries().filter((e) => e.event === 'Leading' || e.event === 'StoppedLeading');
    return events.at(-1)?.event === 'Leading' && op.cli.child.exitCode === null && op.cli.child.signalCode === null;
  });
  assert.ok(current.length <= 1, `${current.length} replicas think they lead`);
  return current[0];
}

async function waitForLeader(ops: Operator[], timeoutMs = 30_000): Promise<{ op: Operator; at: number }> {
  const op = await waitFor('a leader', () => leaderOf(ops), timeoutMs);
  const entry = op.entries().filter(leading).at(-1) as LogEntry;
  return { op, at: Date.parse(entry.time) };
}

async function createMembers(e: TestEnv, ns: string, names: string[], team?: string): Promise<void> {
  for (const name of names) await e.createMember(ns, name, team);
}

/** Waits until, over all replicas, these are announced. */
async function waitForAnnounced(ops: Operator[], ns: string, expected: string[]): Promise<void> {
  await waitFor(`${expected.join(', ')} announced`, () => {
    const all = ops.flatMap((op) => op.announcements(ns));
    return expected.every((x) => all.includes(x)) ? true : undefined;
  });
}

test('three replicas: exactly one greets; SIGKILL of the leader: another leads within lease + retry, nobody twice, every goodbye said', async (t) => {
  const ns = await env.cluster.createNamespace('ha-kill');
  await createMembers(env, ns, ['m1', 'm2', 'm3', 'm4'], 'blue');
  const ops = [replica(ns), replica(ns), replica(ns)];
  try {
    await waitForLeader(ops);
    await waitForAnnounced(ops, ns, ['Welcomed m1 blue', 'Welcomed m2 blue', 'Welcomed m3 blue', 'Welcomed m4 blue']);
    const { op: first } = await waitForLeader(ops);
    assert.equal(ops.filter((op) => op.announcements(ns).length > 0).length, 1, 'one replica greeted');
    for (const op of ops) if (op !== first) await op.waitFor((e) => e.event === 'LeaderChanged' && e.leader === first.identity());

    first.cli.kill('SIGKILL');
    const killedAt = Date.now();
    await first.cli.done;
    // Changes while nobody leads: they wait for the next leader.
    await createMembers(env, ns, ['n1', 'n2'], 'red');
    await env.deleteMember(ns, 'm1');
    await env.deleteMember(ns, 'm2');
    await env.setTeam(ns, 'm3', 'green');
    const rest = ops.filter((op) => op !== first);
    const { op: second, at } = await waitForLeader(rest);
    const took = at - killedAt;
    assert.ok(took <= FAST_LEASE_MS + FAST_RETRY_MS * 1.2 + SLACK_MS, `took over after ${took} ms (lease 4 s, retry 0.5 s + 20 %)`);
    t.diagnostic(`SIGKILL, lease 4 s: a standby led ${took} ms later`);
    await waitForAnnounced(rest, ns, ['Welcomed n1 red', 'Welcomed n2 red', 'Farewell m1 blue', 'Farewell m2 blue', 'Moved m3 green']);
    const all = assertNoRepeats(ops, ns);
    assert.equal(all.length, 9, all.join(', '));
    assert.deepEqual(
      rest.filter((op) => op !== second && op.entries().filter(leading).length === 0).flatMap((op) => op.announcements(ns)),
      [],
      'a replica that never led announced nothing',
    );
    for (const op of rest) await stopOperator(op);
  } finally {
    await killAll(ops);
  }
});

test('SIGTERM of the leader: it finishes, releases the Lease and exits 0; a standby leads within a retry period', async (t) => {
  const ns = await env.cluster.createNamespace('ha-term');
  await createMembers(env, ns, ['t1', 't2']);
  const ops = [replica(ns), replica(ns)];
  try {
    await waitForAnnounced(ops, ns, ['Welcomed t1', 'Welcomed t2']);
    const { op: first } = await waitForLeader(ops);
    const standby = ops.find((op) => op !== first) as Operator;
    await standby.waitFor((e) => e.event === 'LeaderChanged');
    first.cli.kill('SIGTERM');
    const termAt = Date.now();
    const result = await first.cli.done;
    assert.equal(result.code, 0, result.stderr);
    const released = first.entries().findLast((e) => e.event === 'StoppedLeading');
    assert.equal(released?.msg, 'stopped leading: released the lease');
    const { at } = await waitForLeader([standby]);
    assert.ok(at - termAt <= FAST_RETRY_MS * 1.2 + SLACK_MS, `took over ${at - termAt} ms after SIGTERM (retry 0.5 s + 20 %)`);
    t.diagnostic(`SIGTERM, retry 0.5 s: a standby led ${at - termAt} ms later`);
    await env.createMember(ns, 't3');
    await waitForAnnounced([standby], ns, ['Welcomed t3']);
    assertNoRepeats(ops, ns);
    await stopOperator(standby);
  } finally {
    await killAll(ops);
  }
});

test("the reader of the leader's log leaves: it stops as on SIGTERM, releases the Lease and exits 0", async (t) => {
  const ns = await env.cluster.createNamespace('ha-reader');
  await createMembers(env, ns, ['r1']);
  const ops = [replica(ns), replica(ns)];
  try {
    await waitForAnnounced(ops, ns, ['Welcomed r1']);
    const { op: first } = await waitForLeader(ops);
    const standby = ops.find((op) => op !== first) as Operator;
    await standby.waitFor((e) => e.event === 'LeaderChanged');
    // No line is due: the leader notices the closed pipe itself, not at a write.
    first.cli.child.stdout?.destroy();
    const closedAt = Date.now();
    const result = await first.cli.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const { at } = await waitForLeader([standby]);
    // Released: a standby leads within a retry period, not after the lease (4 s) ran out.
    assert.ok(at - closedAt <= FAST_RETRY_MS * 1.2 + SLACK_MS, `took over ${at - closedAt} ms after the reader left`);
    t.diagnostic(`the reader left; a standby led ${at - closedAt} ms later`);
    await stopOperator(standby);
  } finally {
    await killAll(ops);
  }
});

test("the defaults' handover: about one retry period (2 s) after SIGTERM, at most a lease (15 s) + retry after SIGKILL", async (t) => {
  const ns = await env.cluster.createNamespace('ha-defaults');
  await env.createMember(ns, 'd1');
  const ops = [replica(ns, []), replica(ns, []), replica(ns, [])];
  try {
    await waitForAnnounced(ops, ns, ['Welcomed d1']);
    const { op: first } = await waitForLeader(ops);
    first.cli.kill('SIGTERM');
    const termAt = Date.now();
    assert.equal((await first.cli.done).code, 0);
    const rest = ops.filter((op) => op !== first);
    const { at: termTaken } = await waitForLeader(rest);
    assert.ok(termTaken - termAt <= 2_400 + SLACK_MS, `SIGTERM: took over after ${termTaken - termAt} ms`);
    t.diagnostic(`defaults, SIGTERM: a standby led ${termTaken - termAt} ms later`);

    const { op: second } = await waitForLeader(rest);
    second.cli.kill('SIGKILL');
    const killAt = Date.now();
    await second.cli.done;
    await env.createMember(ns, 'd2');
    const last = rest.filter((op) => op !== second);
    const { at: killTaken } = await waitForLeader(last, 30_000);
    const took = killTaken - killAt;
    assert.ok(took >= 10_000, `a standby must wait out the lease, took over after ${took} ms`);
    assert.ok(took <= 15_000 + 2_400 + SLACK_MS, `SIGKILL: took over after ${took} ms`);
    t.diagnostic(`defaults, SIGKILL: a standby led ${took} ms later`);
    await waitForAnnounced(last, ns, ['Welcomed d2']);
    assertNoRepeats(ops, ns);
    for (const op of last) await stopOperator(op);
  } finally {
    await killAll(ops);
  }
});

test('a leader cut off from the API server stops acting within its renew deadline, before the standby takes over; back, it stands by', async (t) => {
  const ns = await env.cluster.createNamespace('ha-cut');
  await createMembers(env, ns, ['c1']);
  const proxy = await startTcpProxy(Number(new URL(env.cp.server).port));
  const cutOff = replica(ns, FAST_ELECTION, { kubeconfig: env.cp.kubeconfigFor({ server: `https://127.0.0.1:${proxy.port}` }) });
  const ops = [cutOff];
  try {
    await cutOff.waitFor(leading);
    await cutOff.waitFor(announced('Welcomed', 'c1'));
    const standby = replica(ns);
    ops.push(standby);
    await standby.waitFor((e) => e.event === 'LeaderChanged' && e.leader === cutOff.identity());

    proxy.setMode('blackhole');
    proxy.cutAll();
    const cutAt = Date.now();
    const stopped = await cutOff.waitFor((e) => e.event === 'StoppedLeading');
    assert.equal(stopped.msg, `stopped leading: could not renew the lease within ${FAST_RENEW_MS} ms`);
    const stoppedAt = Date.parse(stopped.time);
    assert.ok(
      stoppedAt - cutAt <= FAST_RENEW_MS + SLACK_MS / 2,
      `stopped acting ${stoppedAt - cutAt} ms after the cut (renew deadline 3 s)`,
    );
    t.diagnostic(`cut off: stopped acting ${stoppedAt - cutAt} ms after the cut`);

    await env.createMember(ns, 'c2');
    const took = await standby.waitFor(leading);
    // Never two leaders at once: the standby started after the cut-off leader stopped (one clock, one machine).
    assert.ok(Date.parse(took.time) > stoppedAt, `standby led at ${took.time}, the cut-off leader stopped at ${stopped.time}`);
    t.diagnostic(`cut off: the standby led ${Date.parse(took.time) - stoppedAt} ms after the cut-off leader stopped`);
    await standby.waitFor(announced('Welcomed', 'c2'));

    proxy.setMode('pass');
    proxy.cutAll();
    await cutOff.waitFor((e) => e.event === 'LeaderChanged' && e.leader === standby.identity(), { count: 1, timeoutMs: 40_000 });
    await env.createMember(ns, 'c3');
    await standby.waitFor(announced('Welcomed', 'c3'));
    assert.deepEqual(cutOff.announcements(ns), ['Welcomed c1']);
    assert.equal(cutOff.entries().filter(leading).length, 1, 'the cut-off replica did not lead again');
    assertNoRepeats(ops, ns);
    for (const op of ops) await stopOperator(op);
  } finally {
    await killAll(ops);
    await proxy.close();
  }
});
