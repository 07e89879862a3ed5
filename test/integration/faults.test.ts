import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpFaultProxy } from '../harness/http-fault-proxy.js';
import { needsStreamedLists, type Requirement } from '../harness/requirements.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { ClusterHistory, describeTally, type Tally } from './history.js';
import { lines, type TestEnv, useControlPlane, waitFor } from './support.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How a watch lists: each way gets the tests of what can go wrong while it lists. */
type Lists = 'paged' | 'streamed';
const LISTS: readonly Lists[] = ['paged', 'streamed'];
/** The test options for each way: streamed lists need a server that streams them. */
const LISTING = { paged: {}, streamed: needsStreamedLists() } satisfies Record<Lists, Requirement>;

/** The environment that picks the way (unset: the default). */
function listsEnv(lists: Lists | undefined): Record<string, string | undefined> {
  return { KUBE_FEATURE_WatchListClient: lists === undefined ? undefined : String(lists === 'streamed') };
}

/** A JSON watch of one namespace, live before the test changes anything; `tag` tells several in one namespace apart. */
async function watchJson(
  env: TestEnv,
  history: ClusterHistory | undefined,
  ns: string,
  opts: { kubeconfig?: string; extra?: string[]; tag?: string; lists?: Lists } = {},
): Promise<ReturnType<TestEnv['spawn']>> {
  history?.startWatching();
  const { kubeconfig, extra = [], tag = '', lists } = opts;
  const ready = join(env.cp.dir, `ready-${ns}${tag}`);
  const watch = env.spawn(['-n', ns, 'watch', '-o', 'json', '--ready-file', ready, ...extra], {
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    env: listsEnv(lists),
  });
  await waitFor(
    'the watch to be ready',
    () => {
      if (watch.child.exitCode !== null) throw new Error(`the watch exited ${watch.child.exitCode}`);
      return existsSync(ready) || undefined;
    },
    30_000,
  ).catch((err: Error) => {
    watch.kill('SIGKILL');
    throw new Error(`${err.message}; it said: ${watch.stderr()}`);
  });
  return watch;
}

/** What a JSON watch printed, as "TYPE name source". */
function summary(lines: readonly string[]): string[] {
  return ClusterHistory.events(lines).map((e) => `${e.type} ${e.name} ${e.source}`);
}

/** How often a notice appears on stderr. */
function count(stderr: string, notice: RegExp): number {
  return stderr.split('\n').filter((l) => notice.test(l)).length;
}

/**
 * Three watches of a namespace that was empty when they started, each of which once saw `ann` arrive: a plain one,
 * one with --watch-only, one waiting for ann's goodbye. Cut off by the proxy, they miss ann leaving and bob
 * arriving, and `expire` makes resuming fail with 410 Gone. All three must make up what they missed from a
 * relist: the class of bug where "listed once" depended on the first list having members.
 */
async function emptyStartThrough410(env: TestEnv, ns: string, proxied: Proxied, expire: () => Promise<void>): Promise<void> {
  const { proxy, kubeconfig } = proxied;
  const watches = [
    await watchJson(env, undefined, ns, { kubeconfig, tag: 'plain' }),
    await watchJson(env, undefined, ns, { kubeconfig, tag: 'watch-only', extra: ['--watch-only'] }),
    await watchJson(env, undefined, ns, { kubeconfig, tag: 'for', extra: ['--for', 'deleted:ann', '--timeout', '90s'] }),
  ];
  const [plain, watchOnly, waiting] = watches as [ReturnType<TestEnv['spawn']>, ReturnType<TestEnv['spawn']>, ReturnType<TestEnv['spawn']>];
  try {
    await env.createMember(ns, 'ann', 'blue');
    for (const w of watches) await w.waitForLine((l) => l.includes('"ann"'));
    proxy.setMode('refuse');
    proxy.cutAll();
    await env.deleteMember(ns, 'ann');
    await env.createMember(ns, 'bob', 'red');
    await expire();
    proxy.setMode('pass');
    const met = await waiting.done;
    assert.equal(met.code, 0, `--for deleted:ann held: ${met.stderr}`);
    for (const w of [plain, watchOnly]) await w.waitForLine((l) => l.includes('"bob"'), 60_000);
    // Anything repeated would arrive now.
    await sleep(500);
  } finally {
    for (const w of watches) w.kill('SIGINT');
  }
  const expected = ['ADDED ann watch', 'DELETED ann relist', 'ADDED bob relist'];
  for (const w of [plain, watchOnly]) {
    const result = await w.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(summary(w.lines), expected, result.stderr);
    assert.match(result.stderr, new RegExp(`no members in namespace ${ns} yet`));
    // One outage, one "reconnected", however many attempts, relists and reconnects it took; in plain words.
    assert.equal(count(result.stderr, /^reconnected$/), 1, result.stderr);
    assert.match(result.stderr, /the API server no longer has the history to resume from: listing again/);
    assert.doesNotMatch(result.stderr, /aborted|too old resource version/);
  }
  assert.deepEqual(summary(waiting.lines), ['ADDED ann watch', 'DELETED ann relist']);
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

interface Proxied {
  proxy: TcpProxy;
  kubeconfig: string;
}

/** A fault proxy in front of the API server, and a kubeconfig that goes through it. */
function useProxy(env: TestEnv): Proxied {
  const proxied = {} as Proxied;
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

  test('a watch that started empty, cut off while kube-apiserver restarts: the relist sees ann off and greets bob', async () => {
    const ns = await env.cluster.createNamespace('restart-empty');
    // A restarted kube-apiserver's watch cache starts at the current resourceVersion: resuming gets 410.
    await emptyStartThrough410(env, ns, proxied, async () => {
      await env.cp.stopApiserver();
      await env.cp.startApiserver();
    });
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

  for (const lists of LISTS) {
    test(
      `the first list cut half-way (${lists}): a relist greets the rest and the changes meanwhile, nobody twice`,
      LISTING[lists],
      async (t) => {
        const ns = await env.cluster.createNamespace('halfway');
        const history = new ClusterHistory(env, ns);
        for (let i = 0; i < 60; i++) await history.create(`team-${i % 3}`);
        const { proxy, kubeconfig: through } = proxied;
        // About 30 KB of list at a few KB a second: seconds in which the list is still arriving.
        proxy.setMode('trickle');
        history.startWatching();
        const watch = env.spawn(['-n', ns, 'watch', '-o', 'json'], { kubeconfig: through, env: listsEnv(lists) });
        await waitFor('the first greetings', () => watch.lines.length >= 5 || undefined, 30_000);
        for (let i = 0; i < 3; i++) await history.create();
        const greetedBeforeCut = watch.lines.length;
        proxy.setMode('pass');
        proxy.cutAll();
        const outcome = await finish(t, history, watch);
        assert.ok(greetedBeforeCut < 60, `the cut came while the list was arriving (${greetedBeforeCut} of 60 greeted)`);
        assert.ok(outcome.relisted >= 3, `the rest came from the relist (${outcome.relisted})`);
      },
    );
  }

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

  test('the CRD deleted and recreated while watching: goodbyes for everyone, then recovery, also for a watch that started empty', async () => {
    const ns = await env.cluster.createNamespace('crd');
    const emptyNs = await env.cluster.createNamespace('crd-empty');
    for (const n of ['ann', 'bob']) await env.createMember(ns, n, 'blue');
    const watch = await watchJson(env, undefined, ns);
    // No --for, no --timeout: only a CRD missing at the start is final (exit 4), not one deleted while watching.
    const empty = await watchJson(env, undefined, emptyNs);
    assert.equal((await env.cli(['uninstall-crd', '--yes'])).code, 0);
    await waitFor('goodbyes', () => ClusterHistory.events(watch.lines).filter((e) => e.type === 'DELETED').length === 2 || undefined);
    await waitFor('the empty watch to wait for the CRD', () => {
      if (empty.child.exitCode !== null) throw new Error(`the watch that started empty exited ${empty.child.exitCode}: ${empty.stderr()}`);
      return empty.stderr().includes('waiting for the Member CRD') || undefined;
    });
    // Polled several times meanwhile (0.5 s, 1 s, 2 s...): said once all the same.
    await sleep(4_000);
    assert.equal((await env.cli(['install-crd'])).code, 0);
    await env.createMember(ns, 'cid', 'red');
    await env.createMember(emptyNs, 'dan', 'red');
    await watch.waitForLine((l) => l.includes('"cid"'));
    await empty.waitForLine((l) => l.includes('"dan"'));
    // dan may come from the relist that found the CRD back, before the watch after it opens and says so.
    await waitFor(
      'the empty watch to say the CRD is back',
      () => /the Member CRD is installed again: watching members/.test(empty.stderr()) || undefined,
    );
    for (const w of [watch, empty]) w.kill('SIGINT');
    const result = await watch.done;
    assert.equal(result.code, 0, result.stderr);
    const events = ClusterHistory.events(watch.lines).map((e) => `${e.type} ${e.name}`);
    assert.deepEqual(events.sort(), ['ADDED ann', 'ADDED bob', 'ADDED cid', 'DELETED ann', 'DELETED bob']);
    const emptyResult = await empty.done;
    assert.equal(emptyResult.code, 0, emptyResult.stderr);
    // From the relist when the CRD came back, or from the watch after it: either way, once.
    assert.deepEqual(
      ClusterHistory.events(empty.lines).map((e) => `${e.type} ${e.name}`),
      ['ADDED dan'],
    );
    assert.equal(count(emptyResult.stderr, /waiting for the Member CRD/), 1, emptyResult.stderr);
    assert.equal(count(emptyResult.stderr, /the Member CRD is installed again/), 1, emptyResult.stderr);
  });

  for (const lists of LISTS) {
    test(
      `garbage from the server is reported on one line each and skipped (${lists} lists); the watch goes on, nothing lost`,
      LISTING[lists],
      async (t) => {
        const ns = await env.cluster.createNamespace('garbage');
        const history = new ClusterHistory(env, ns);
        await history.churn(2);
        const faults = await startHttpFaultProxy(env.cp);
        let watch: Awaited<ReturnType<typeof watchJson>> | undefined;
        try {
          faults.addListItems([
            '{"kind":"Member"}',
            '{"metadata":null}',
            '{"metadata":{"name":5,"uid":"x","resourceVersion":"1"}}',
            '{"metadata":{"name":"sly","resourceVersion":"1"},"spec":{"memberOf":"blue"}}',
            // Not even JSON, with a raw escape sequence that must not reach the terminal.
            '{"metadata":"\u001b[2J"}',
          ]);
          watch = await watchJson(env, history, ns, { kubeconfig: faults.kubeconfig, lists });
          faults.addListItems(undefined);
          const garbage = [
            '{"type":"ADDED","object":null}',
            '{"type":"MODIFIED"}',
            '{"type":"DELETED","object":{"metadata":{"uid":7,"resourceVersion":"1"}}}',
            '{"type":"BOOKMARK","object":{}}',
            '{"type":5,"object":{}}',
            'null',
            '[]',
            'not json at all',
          ];
          for (const line of garbage) assert.equal(faults.sendToWatches(line), 1);
          await history.churn(2);
          // An ERROR without a Status ends that watch: the watcher resumes where it was.
          faults.sendToWatches('{"type":"ERROR","object":null}');
          await history.churn(2);
          const outcome = await finish(t, history, watch);
          assert.equal(count(outcome.stderr, /^warning: skipped a list item the API server sent \(/), 5, outcome.stderr);
          assert.equal(count(outcome.stderr, /^warning: skipped a watch event the API server sent \(/), garbage.length, outcome.stderr);
          assert.match(outcome.stderr, /\(ADDED event: the object is null\): \{"type":"ADDED","object":null\}/);
          // The line as it came: an item of a paged list, or the event that carried it in a streamed one.
          assert.match(outcome.stderr, /\(it is not JSON\): (\{"type":"ADDED","object":)?\{"metadata":"\\e\[2J"\}/);
          assert.doesNotMatch(outcome.stderr, /\u001b/);
          // A 200 answer to the list that is no Kubernetes list cannot heal by asking again: exit 3, saying what came.
          for (const body of [{ hello: 'world' }, 'Sign in']) {
            faults.inject({ status: 200, body, methods: ['GET'] });
            const notAList = await env.cli(['-n', ns, 'watch'], { kubeconfig: faults.kubeconfig, env: listsEnv(lists) });
            assert.equal(notAList.code, 3, notAList.stderr);
            assert.ok(
              notAList.stderr.includes(
                `answered the list of members with something that is not a Kubernetes list: ${JSON.stringify(body)}`,
              ),
              notAList.stderr,
            );
          }
          // The unreadable DELETED event's resourceVersion ("1") was not taken: the resume did not fall back to a relist.
          assert.doesNotMatch(outcome.stderr, /no longer has the history/);
        } finally {
          watch?.kill('SIGKILL');
          await faults.close();
        }
      },
    );
  }
});

describe('without the watch cache, so that compaction expires resource versions', () => {
  const env = useControlPlane({ watchCache: false });
  const proxied = useProxy(env);

  test('a watch that started empty, cut off while the history is compacted: the relist sees ann off and greets bob', async () => {
    const ns = await env.cluster.createNamespace('gone-empty');
    await emptyStartThrough410(env, ns, proxied, () => env.cp.compact());
  });

  test('a continue token expired during the first list is named as such; the relist greets everyone once', async () => {
    const ns = await env.cluster.createNamespace('continue');
    const names = Array.from({ length: 520 }, (_, i) => `m-${i}`);
    const file = join(env.cp.dir, 'continue.json');
    const items = names.map((name) => ({ apiVersion: 'helloworld.apimeister.com/v1', kind: 'Member', metadata: { name } }));
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    assert.equal((await env.cli(['-n', ns, 'apply-member', '-f', file])).code, 0);
    const faults = await startHttpFaultProxy(env.cp);
    try {
      // The first page (500) is let through; the second waits while etcd is compacted past the list's snapshot.
      const first = faults.holdNext('GET');
      const watch = env.spawn(['-n', ns, 'watch', '-o', 'json', '--count', String(names.length)], { kubeconfig: faults.kubeconfig });
      await first.arrived;
      const second = faults.holdNext('GET');
      first.release();
      await second.arrived;
      await env.createMember(ns, 'later');
      await env.cp.compact();
      second.release();
      const r = await watch.done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /the list took longer than the API server keeps its snapshot \(the continue token expired\): listing again/);
      assert.doesNotMatch(r.stderr, /history to resume from/);
      const greeted = lines(r.stdout).map((l) => (JSON.parse(l) as { name: string }).name);
      assert.equal(new Set(greeted).size, greeted.length, 'nobody greeted twice');
    } finally {
      await faults.close();
    }
  });

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
    assert.match(outcome.stderr, /the API server no longer has the history to resume from: listing again/);
  });
});
