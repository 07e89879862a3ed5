import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpFaultProxy } from '../harness/http-fault-proxy.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { ClusterHistory, describeTally, type Tally } from './history.js';
import { type TestEnv, useControlPlane, waitFor } from './support.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A JSON watch of one namespace, live before the test changes anything. */
async function watchJson(
  env: TestEnv,
  history: ClusterHistory,
  ns: string,
  opts: { kubeconfig?: string; extra?: string[] } = {},
): Promise<ReturnType<TestEnv['spawn']>> {
  history.startWatching();
  const { kubeconfig, extra = [] } = opts;
  const ready = join(env.cp.dir, `ready-${ns}`);
  const watch = env.spawn(
    ['-n', ns, 'watch', '-o', 'json', '--ready-file', ready, ...extra],
    kubeconfig === undefined ? {} : { kubeconfig },
  );
  await waitFor('the watch to be ready', () => existsSync(ready) || undefined, 30_000).catch((err: Error) => {
    watch.kill('SIGKILL');
    throw new Error(`${err.message}; it said: ${watch.stderr()}`);
  });
  return watch;
}

async function finish(t: TestContext, history: ClusterHistory, watch: ReturnType<TestEnv['spawn']>): Promise<Tally & { stderr: string }> {
  try {
    await waitFor('the watcher to catch up', () => history.caughtUp(watch.lines) || undefined, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}; watcher said:\n${watch.stderr()}\nprinted:\n${watch.lines.join('\n')}`);
    });
    // Anything repeated would arrive now.
    await sleep(500);
  } finally {
    watch.kill('SIGINT');
  }
  const result = await watch.done;
  assert.equal(result.code, 0, result.stderr);
  const tally = history.assertMatches(watch.lines);
  t.diagnostic(describeTally(tally));
  return { ...tally, stderr: result.stderr };
}

/** A fault proxy in front of the API server, and a kubeconfig that goes through it. */
function useProxy(env: TestEnv): { proxy: TcpProxy; kubeconfig: string } {
  const proxied = {} as { proxy: TcpProxy; kubeconfig: string };
  before(async () => {
    proxied.proxy = await startTcpProxy(Number(new URL(env.cp.server).port));
    proxied.kubeconfig = env.cp.kubeconfigFor({ server: `https://127.0.0.1:${proxied.proxy.port}` });
  });
  after(async () => proxied.proxy?.close());
  return proxied;
}

describe('with the watch cache (the default)', () => {
  const env = useControlPlane();
  const proxied = useProxy(env);

  test('kube-apiserver stopped and restarted while members come and go: nothing lost, nothing twice', async (t) => {
    const ns = await env.cluster.createNamespace('restart');
    const history = new ClusterHistory(env, ns);
    await history.churn(4);
    const watch = await watchJson(env, history, ns);
    for (let restart = 0; restart < 2; restart++) {
      await history.churn(3);
      await env.cp.stopApiserver();
      await Promise.all([env.cp.startApiserver(), history.churn(2)]);
    }
    await history.churn(3);
    const outcome = await finish(t, history, watch);
    assert.match(outcome.stderr, /reconnect/);
  });

  test('connections cut through a proxy, again and again: nothing lost, nothing twice', async (t) => {
    const ns = await env.cluster.createNamespace('cut');
    const history = new ClusterHistory(env, ns);
    await history.churn(3);
    const { proxy, kubeconfig: through } = proxied;
    const watch = await watchJson(env, history, ns, { kubeconfig: through });
    for (let cut = 0; cut < 5; cut++) {
      await history.churn(2);
      proxy.cutAll();
      // Time to reconnect (the first retry waits at most half a second), so the next cut has a connection to cut.
      await sleep(1_500);
    }
    await history.churn(2);
    const outcome = await finish(t, history, watch);
    // One connection, then one after each cut: a working watch that is cut reconnects within a second,
    // its backoff does not grow from cut to cut.
    assert.ok(proxy.connections >= 6, `the watcher reconnected after every cut (${proxy.connections} connections)`);
    assert.equal(outcome.relisted, 0, 'the watch cache still had every resourceVersion: resumed, not relisted');
  });

  test('a slow trickle of a connection: events arrive late, none lost, none twice', async (t) => {
    const ns = await env.cluster.createNamespace('trickle');
    const history = new ClusterHistory(env, ns);
    await history.churn(2);
    const { proxy, kubeconfig: through } = proxied;
    const watch = await watchJson(env, history, ns, { kubeconfig: through });
    const before = proxy.trickled;
    proxy.setMode('trickle');
    await history.churn(3);
    // Also reconnect over the slow link: the TLS handshake and the resumed watch take seconds.
    proxy.cutAll();
    await history.churn(2);
    await sleep(6_000);
    proxy.setMode('pass');
    await history.churn(2);
    await finish(t, history, watch);
    assert.ok(proxy.trickled - before > 2000, `${proxy.trickled - before} bytes went through the slow link`);
  });

  test('the first list cut half-way: a relist greets the rest and the changes meanwhile, nobody twice', async (t) => {
    const ns = await env.cluster.createNamespace('halfway');
    const history = new ClusterHistory(env, ns);
    for (let i = 0; i < 60; i++) await history.create(`team-${i % 3}`);
    const { proxy, kubeconfig: through } = proxied;
    // About 30 KB of list at a few KB a second: seconds in which the list is still arriving.
    proxy.setMode('trickle');
    history.startWatching();
    const watch = env.spawn(['-n', ns, 'watch', '-o', 'json'], { kubeconfig: through });
    await waitFor('the first greetings', () => watch.lines.length >= 5 || undefined, 30_000);
    for (let i = 0; i < 3; i++) await history.create();
    const greetedBeforeCut = watch.lines.length;
    proxy.setMode('pass');
    proxy.cutAll();
    const outcome = await finish(t, history, watch);
    assert.ok(greetedBeforeCut < 60, `the cut came while the list was arriving (${greetedBeforeCut} of 60 greeted)`);
    assert.ok(outcome.relisted >= 3, `the rest came from the relist (${outcome.relisted})`);
  });

  test('a silent connection is treated as dead and replaced', async (t) => {
    const ns = await env.cluster.createNamespace('silent');
    const history = new ClusterHistory(env, ns);
    const { proxy, kubeconfig: through } = proxied;
    const watch = await watchJson(env, history, ns, { kubeconfig: through, extra: ['--watch-timeout', '2s'] });
    await history.churn(2);
    proxy.setMode('blackhole');
    await history.churn(3);
    // Silence past 2s plus the margin: the watcher must notice on its own.
    await sleep(5_000);
    proxy.setMode('pass');
    await history.churn(2);
    const outcome = await finish(t, history, watch);
    assert.match(outcome.stderr, /no answer|reconnect/);
  });
});

describe('the store and the resource type going away', () => {
  const env = useControlPlane();

  test('429 with Retry-After and 503 answers: backoff, no hot loop, nothing lost', async (t) => {
    const ns = await env.cluster.createNamespace('throttle');
    const history = new ClusterHistory(env, ns);
    const faults = await startHttpFaultProxy(env.cp);
    let watch: Awaited<ReturnType<typeof watchJson>> | undefined;
    try {
      await history.churn(2);
      watch = await watchJson(env, history, ns, { kubeconfig: faults.kubeconfig });
      const counted = async (fault: { status: number; retryAfterSeconds?: number }): Promise<number> => {
        const before = faults.requests;
        faults.inject(fault);
        await history.churn(2);
        await sleep(5_000);
        faults.inject(undefined);
        return faults.requests - before;
      };
      // Retry-After 2 over about 5 s: a handful of tries, not hundreds.
      const throttled = await counted({ status: 429, retryAfterSeconds: 2 });
      assert.ok(throttled >= 2 && throttled <= 5, `${throttled} requests while throttled`);
      // The backoff keeps growing (no healthy connection in between): at most a few tries in 5 s.
      const failing = await counted({ status: 503 });
      assert.ok(failing >= 1 && failing <= 6, `${failing} requests while the server failed`);
      await history.churn(2);
      const outcome = await finish(t, history, watch);
      assert.match(outcome.stderr, /HTTP 429/);
      assert.match(outcome.stderr, /HTTP 503/);
    } finally {
      watch?.kill('SIGKILL');
      await faults.close();
    }
  });

  test('etcd stopped and restarted: nothing lost, nothing twice', async (t) => {
    const ns = await env.cluster.createNamespace('etcd');
    const history = new ClusterHistory(env, ns);
    await history.churn(3);
    const watch = await watchJson(env, history, ns);
    await history.churn(2);
    await env.cp.stopEtcd();
    await sleep(2_000);
    await env.cp.startEtcd();
    await history.churn(3);
    await finish(t, history, watch);
  });

  test('the CRD deleted and recreated while watching: goodbyes for everyone, then recovery', async () => {
    const ns = await env.cluster.createNamespace('crd');
    for (const n of ['ann', 'bob']) await env.createMember(ns, n, 'blue');
    const watch = await watchJson(env, new ClusterHistory(env, ns), ns);
    assert.equal((await env.cli(['uninstall-crd', '--yes'])).code, 0);
    await waitFor('goodbyes', () => ClusterHistory.events(watch.lines).filter((e) => e.type === 'DELETED').length === 2 || undefined);
    assert.equal((await env.cli(['install-crd'])).code, 0);
    await env.createMember(ns, 'cid', 'red');
    await watch.waitForLine((l) => l.includes('"cid"'));
    watch.kill('SIGINT');
    const result = await watch.done;
    assert.equal(result.code, 0, result.stderr);
    const events = ClusterHistory.events(watch.lines).map((e) => `${e.type} ${e.name}`);
    assert.deepEqual(events.sort(), ['ADDED ann', 'ADDED bob', 'ADDED cid', 'DELETED ann', 'DELETED bob']);
  });
});

describe('without the watch cache, so that compaction expires resource versions', () => {
  const env = useControlPlane({ watchCache: false });
  const proxied = useProxy(env);

  test('410 Gone after compaction while cut off: a relist makes up exactly what was missed', async (t) => {
    const ns = await env.cluster.createNamespace('gone');
    const history = new ClusterHistory(env, ns);
    await history.churn(6);
    const { proxy, kubeconfig: through } = proxied;
    const watch = await watchJson(env, history, ns, { kubeconfig: through });
    proxy.setMode('refuse');
    proxy.cutAll();
    // While cut off: new members, members leaving, a team change. (A member born and gone inside this
    // window leaves no trace a relist could find, so the window holds none.)
    for (let i = 0; i < 3; i++) await history.create(`late-${i}`);
    await history.remove();
    await history.remove();
    await history.reteam('moved');
    await env.cp.compact();
    proxy.setMode('pass');
    await history.churn(2);
    const outcome = await finish(t, history, watch);
    assert.ok(outcome.relisted > 0, 'what happened while cut off came from a relist');
    assert.match(outcome.stderr, /relisting/);
  });
});
