// 8. Idle cost: CPU and memory of a leader and of a standby of `member-watch operator` watching N members that do
// not change (all welcomed already), and of the peer watching as many, sampled once a second for a while.
import { cpuMs, memoryKiB, progress, sleep } from './lib.js';
import type { Operator, Operators } from './operators.js';

export interface IdleFigures {
  /** CPU time used per second of wall time, in ms (10 ms/s = 1% of one CPU). */
  cpuMsPerSecond: number;
  /** KiB: mean and highest resident set over the window. */
  rssMean: number;
  rssMax: number;
}

export interface IdleResult {
  members: number;
  seconds: number;
  leader: IdleFigures;
  standby: IdleFigures;
  peer: IdleFigures;
}

/** Samples each process once a second for `seconds`. */
async function sample(pids: number[], seconds: number): Promise<IdleFigures[]> {
  const cpuStart = pids.map(cpuMs);
  const started = performance.now();
  const rss: number[][] = pids.map(() => []);
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    pids.forEach((pid, i) => rss[i]?.push(memoryKiB(pid).rss));
  }
  const wall = (performance.now() - started) / 1000;
  return pids.map((pid, i) => {
    const values = rss[i] ?? [];
    return {
      cpuMsPerSecond: (cpuMs(pid) - (cpuStart[i] ?? 0)) / wall,
      rssMean: values.reduce((a, b) => a + b, 0) / values.length,
      rssMax: Math.max(...values),
    };
  });
}

/** Waits until the process has used no more than 5% of a CPU over 3 s in a row: start-up and catch-up are over. */
async function settled(op: Operator, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const before = cpuMs(op.pid);
    await sleep(3000);
    if (cpuMs(op.pid) - before <= 150) return;
    if (Date.now() > deadline) throw new Error(`still busy after ${timeoutMs} ms`);
  }
}

/** A namespace of `count` members that ours has welcomed, for an idle run without the reconcile runs before it. */
export async function welcomedNamespace(ops: Operators, count: number): Promise<string> {
  const namespace = await ops.cluster.newNamespace('idle-ours');
  await ops.cluster.createMembers(namespace, count);
  let welcomes = 0;
  const op = await ops.startOurs(namespace, 'idle-setup', (line) => {
    if (line.includes('welcome ')) welcomes += 1;
  });
  try {
    // a welcome is logged once its status is written
    while (welcomes < count) {
      if (op.proc.child.exitCode !== null) throw new Error(`the operator ended: ${op.proc.stderr()}`);
      await sleep(100);
    }
  } finally {
    await op.stop();
  }
  return namespace;
}

/**
 * `oursNamespace` holds `count` members ours has welcomed (the reconcile runs leave one); the peer greets again
 * whatever it lists (it records nothing), so it gets a namespace of its own, measured once its greetings are done.
 */
export async function measureIdle(ops: Operators, oursNamespace: string, count: number, seconds: number): Promise<IdleResult> {
  const peerNamespace = await ops.cluster.newNamespace('idle-peer');
  await ops.cluster.createMembers(peerNamespace, count);
  const ignore = (): void => undefined;
  const a = await ops.startOurs(oursNamespace, 'idle-a', ignore);
  const b = await ops.startOurs(oursNamespace, 'idle-b', ignore);
  const peer = ops.startPeer(peerNamespace, ignore);
  try {
    // the peer says ready only once its informer started, after it fired the greetings of every member it listed
    await Promise.all([a.ready(), b.ready(), peer.ready(600_000)]);
    const deadline = Date.now() + 60_000;
    let holder = await ops.leaseHolder();
    while (holder !== 'idle-a' && holder !== 'idle-b') {
      if (Date.now() > deadline) throw new Error(`neither idle replica leads (holder: ${String(holder)})`);
      await sleep(100);
      holder = await ops.leaseHolder();
    }
    const [leader, standby] = holder === 'idle-a' ? [a, b] : [b, a];
    for (const op of [leader, standby, peer]) await settled(op, 600_000);
    progress(`idle: sampling the leader, the standby and the peer for ${seconds} s`);
    const [l, s, p] = await sample([leader.pid, standby.pid, peer.pid], seconds);
    if (l === undefined || s === undefined || p === undefined) throw new Error('no samples');
    return { members: count, seconds, leader: l, standby: s, peer: p };
  } finally {
    await Promise.all([a.stop(), b.stop(), peer.stop()]);
  }
}
