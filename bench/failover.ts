// 7. Failover: two replicas of `member-watch operator --leader-elect` as deploy/ runs them; the leader is killed
// (SIGKILL: it cannot release the Lease) or asked to stop (SIGTERM: it releases it), a member is created at once, and
// the time until the other replica welcomes it is measured.
import { median, progress, sleep } from './lib.js';
import type { Operator, Operators } from './operators.js';

export interface FailoverResult {
  /** ms from the signal to the new leader's first welcome, per run. */
  kill: number[];
  term: number[];
}

interface Replica {
  identity: string;
  op: Operator;
  /** Date.now() of each welcome line, by member name. */
  welcomed: Map<string, number>;
}

async function startReplica(ops: Operators, namespace: string, identity: string): Promise<Replica> {
  const welcomed = new Map<string, number>();
  const op = await ops.startOurs(namespace, identity, (line) => {
    const name = /welcome (\S+)/.exec(line)?.[1];
    if (name !== undefined) welcomed.set(name, Date.now());
  });
  return { identity, op, welcomed };
}

async function leaderOf(ops: Operators, replicas: Replica[], timeoutMs: number): Promise<Replica> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const holder = await ops.leaseHolder();
    const leader = replicas.find((r) => r.identity === holder);
    if (leader !== undefined) return leader;
    if (Date.now() > deadline) throw new Error(`no replica leads after ${timeoutMs} ms (holder: ${String(holder)})`);
    await sleep(50);
  }
}

async function oneRun(ops: Operators, namespace: string, signal: 'SIGKILL' | 'SIGTERM', run: number): Promise<number> {
  const tag = `${signal === 'SIGKILL' ? 'kill' : 'term'}-${run}`;
  const replicas = [await startReplica(ops, namespace, `failover-${tag}-a`), await startReplica(ops, namespace, `failover-${tag}-b`)];
  try {
    await Promise.all(replicas.map((r) => r.op.ready()));
    // a killed leader of the run before still holds the Lease until it expires
    const leader = await leaderOf(ops, replicas, 60_000);
    const standby = replicas.find((r) => r !== leader) as Replica;
    const index = run * 2 + (signal === 'SIGKILL' ? 1 : 0);
    const member = `member-${index}`;
    const signalled = Date.now();
    const stopped = leader.op.stop(signal);
    await ops.cluster.createMembers(namespace, 1, { first: index });
    const deadline = signalled + 60_000;
    while (!standby.welcomed.has(member)) {
      if (Date.now() > deadline) throw new Error(`${standby.identity} did not welcome ${member} within 60 s`);
      await sleep(10);
    }
    await stopped;
    return (standby.welcomed.get(member) as number) - signalled;
  } finally {
    await Promise.all(replicas.map((r) => r.op.stop('SIGTERM')));
  }
}

export async function measureFailover(ops: Operators, runs: number): Promise<FailoverResult> {
  const namespace = await ops.cluster.newNamespace('failover');
  const result: FailoverResult = { kill: [], term: [] };
  for (let run = 0; run < runs; run++) {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const ms = await oneRun(ops, namespace, signal, run);
      (signal === 'SIGKILL' ? result.kill : result.term).push(ms);
      progress(`failover ${signal} run ${run + 1}: the standby welcomed ${ms} ms after the signal`);
    }
  }
  progress(`failover medians: SIGKILL ${median(result.kill)} ms, SIGTERM ${median(result.term)} ms`);
  return result;
}
