// The long fault run (`npm run soak`): many API server and etcd restarts and connection cuts in one watch,
// with figures per fault for docs/reliability.md. CI runs the shorter suite in test/integration/faults.test.ts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTcpProxy } from '../harness/tcp-proxy.js';
import { ClusterHistory, describeTally } from '../integration/history.js';
import { useControlPlane, waitFor } from '../integration/support.js';

const env = useControlPlane();
const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 10);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test(`soak: ${ROUNDS} rounds of apiserver restarts, etcd restarts, drops and trickles`, { timeout: 30 * 60_000 }, async (t) => {
  const ns = await env.cluster.createNamespace('soak');
  const history = new ClusterHistory(env, ns);
  const proxy = await startTcpProxy(Number(new URL(env.cp.server).port));
  const ready = join(env.cp.dir, 'soak-ready');
  const watch = env.spawn(['-n', ns, 'watch', '-o', 'json', '--ready-file', ready], {
    kubeconfig: env.cp.kubeconfigFor({ server: `https://127.0.0.1:${proxy.port}` }),
  });
  const recoveries = new Map<string, number[]>();
  /**
   * Changes made just before the fault (what a watcher could still owe when it hits), the fault, then the time
   * from its end until the watcher prints a member created right then.
   */
  const fault = async (name: string, outage: () => Promise<void>): Promise<void> => {
    history.phase = name;
    await history.churn(3);
    await outage();
    const started = Date.now();
    const probe = await history.create('probe');
    assert.ok(probe !== undefined, `the probe after ${name} was not created`);
    await waitFor('the probe', () => watch.lines.some((l) => l.includes(`"name":"${probe}"`)) || undefined, 120_000);
    recoveries.set(name, [...(recoveries.get(name) ?? []), Date.now() - started]);
  };
  try {
    await waitFor('the watch to be ready', () => existsSync(ready) || undefined, 30_000);
    history.startWatching();
    for (let round = 0; round < ROUNDS; round++) {
      // Short, medium and long outages; the long one outlasts the 15 s backoff ceiling.
      const outage = [500, 5_000, 30_000][round % 3] ?? 500;
      await fault('kube-apiserver restart', async () => {
        await env.cp.stopApiserver();
        await sleep(outage);
        await env.cp.startApiserver();
      });
      await fault('etcd restart', async () => {
        await env.cp.stopEtcd();
        await sleep(1_000);
        await env.cp.startEtcd();
      });
      await fault('connection dropped', async () => proxy.cutAll());
      await fault('slow trickle (5 s, cut once)', async () => {
        proxy.setMode('trickle');
        proxy.cutAll();
        await history.churn(2);
        await sleep(5_000);
        proxy.setMode('pass');
      });
    }
    await waitFor('the watcher to catch up', () => history.caughtUp(watch.lines) || undefined, 60_000);
    await sleep(500);
  } finally {
    watch.kill('SIGINT');
    await proxy.close();
  }
  t.diagnostic(`all faults: ${describeTally(history.compare(watch.lines))}`);
  const rows = [...recoveries].map(([name, times]) => {
    const tally = history.compare(watch.lines, name);
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    return `| ${name} | ${times.length} | ${tally.produced} | ${tally.seen} | ${tally.missing} | ${tally.duplicated} | ${median} ms | ${sorted.at(-1)} ms |`;
  });
  const header = [
    '| fault | runs | events produced | seen | missing | duplicated | recovery median | recovery max |',
    '| --- |' + ' --- |'.repeat(7),
  ];
  for (const row of [...header, ...rows]) t.diagnostic(row);
  history.assertMatches(watch.lines);
  assert.equal(rows.length, 4);
});
