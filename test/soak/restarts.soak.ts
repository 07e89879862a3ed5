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

interface Figures {
  runs: number;
  recoveries: number[];
}

test(`soak: ${ROUNDS} rounds of apiserver restarts, etcd restarts and cuts`, { timeout: 30 * 60_000 }, async (t) => {
  const ns = await env.cluster.createNamespace('soak');
  const history = new ClusterHistory(env, ns);
  const proxy = await startTcpProxy(Number(new URL(env.cp.server).port));
  const ready = join(env.cp.dir, 'soak-ready');
  const watch = env.spawn(['-n', ns, 'watch', '-o', 'json', '--ready-file', ready], {
    kubeconfig: env.cp.kubeconfigFor({ server: `https://127.0.0.1:${proxy.port}` }),
  });
  const figures: Record<string, Figures> = {};
  /** Time from the end of a fault until the watcher prints a member created right then. */
  const recovery = async (fault: string, outage: () => Promise<void>): Promise<void> => {
    await outage();
    const started = Date.now();
    const name = await history.create('probe');
    assert.ok(name !== undefined, `the probe after ${fault} was not created`);
    await waitFor('the probe', () => watch.lines.some((l) => l.includes(`"name":"${name}"`)) || undefined, 120_000);
    const entry = (figures[fault] ??= { runs: 0, recoveries: [] });
    entry.runs += 1;
    entry.recoveries.push(Date.now() - started);
  };
  try {
    await waitFor('the watch to be ready', () => existsSync(ready) || undefined, 30_000);
    history.startWatching();
    for (let round = 0; round < ROUNDS; round++) {
      await history.churn(3);
      // Short, medium and long outages; the long one outlasts the 15 s backoff ceiling.
      const outage = [500, 5_000, 30_000][round % 3] ?? 500;
      await recovery(`kube-apiserver restart`, async () => {
        await env.cp.stopApiserver();
        await sleep(outage);
        await env.cp.startApiserver();
      });
      await recovery('etcd restart', async () => {
        await env.cp.stopEtcd();
        await sleep(1_000);
        await env.cp.startEtcd();
      });
      await recovery('connection cut', async () => proxy.cutAll());
      await recovery('slow trickle (5 s, cut once)', async () => {
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
  const tally = history.compare(watch.lines);
  const rows = Object.entries(figures).map(([fault, f]) => {
    const sorted = [...f.recoveries].sort((a, b) => a - b);
    return `| ${fault} | ${f.runs} | ${sorted[Math.floor(sorted.length / 2)]} ms | ${sorted.at(-1)} ms |`;
  });
  t.diagnostic(describeTally(tally));
  for (const row of ['| fault | runs | recovery median | recovery max |', '| --- | --- | --- | --- |', ...rows]) t.diagnostic(row);
  history.assertMatches(watch.lines);
  assert.equal(rows.length, 4);
});
