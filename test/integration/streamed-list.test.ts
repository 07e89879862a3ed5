import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RunningCli } from '../harness/cli.js';
import { type InitialEventsEnd, startHttpFaultProxy } from '../harness/http-fault-proxy.js';
import { parseEvents, parseRequests } from '../harness/watch-checker.js';
import { announced, killAll, startOperator, stopOperator } from './operator-support.js';
import { needsStreamedLists } from '../harness/requirements.js';
import { useControlPlane, waitFor } from './support.js';

// Streamed lists (issue 17 item 8): where the API server serves sendInitialEvents, the first list of `watch` and of
// the operator is one watch whose initial events are the list, and the watch goes on from the bookmark that ends
// them; a server that refuses the parameters, or whose initial events never end, gets a paged list and a watch.

const env = useControlPlane();
const STREAMED = { KUBE_FEATURE_WatchListClient: 'true' };
const PAGED = { KUBE_FEATURE_WatchListClient: 'false' };
const STREAMS = needsStreamedLists();
/** A 410 ERROR event, as the API server ends a watch whose resourceVersion is too old. */
const EXPIRED = JSON.stringify({
  type: 'ERROR',
  object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 },
});

/** A JSON watch of one namespace with --debug, returned once its ready file is there. */
async function startWatch(ns: string, vars: Record<string, string>, extra: string[] = [], kubeconfig?: string): Promise<RunningCli> {
  const ready = join(env.cp.dir, `ready-${ns}-${Object.values(vars).join('')}${extra.join('')}`);
  const args = ['--debug', '-n', ns, 'watch', '-o', 'json', '--ready-file', ready, ...extra];
  const watch = env.spawn(args, kubeconfig === undefined ? { env: vars } : { env: vars, kubeconfig });
  await waitFor('the watch to be ready', () => existsSync(ready) || undefined, 60_000).catch((err: Error) => {
    watch.kill('SIGKILL');
    throw new Error(`${err.message}; it said:\n${watch.stderr()}`);
  });
  return watch;
}

async function stop(watch: RunningCli): Promise<{ told: string[]; requests: string[]; stderr: string }> {
  watch.kill('SIGINT');
  const result = await watch.done;
  assert.equal(result.code, 0, result.stderr);
  return { told: summary(watch.lines), requests: memberRequests(result.stderr), stderr: result.stderr };
}

/**
 * What a JSON watch printed, as "TYPE name team source"; the greetings of a list by name, since a list is a snapshot
 * whose order is the server's (1.20's watch cache answers in no order at all).
 */
function summary(lines: readonly string[]): string[] {
  const told = parseEvents(lines).map((e) => `${e.type} ${e.name} ${String(e.team)} ${e.source}`);
  const listed = told.findIndex((line) => !line.endsWith(' initial'));
  const end = listed < 0 ? told.length : listed;
  return [...told.slice(0, end).sort(), ...told.slice(end)];
}

/**
 * The member requests of a --debug log that were answered: `stream` (its initial events ended), `stream, unended`,
 * `list`, `watch`, and the status of any not answered with 200. (An answered request cut later is logged twice.)
 */
function memberRequests(stderr: string): string[] {
  const answered = parseRequests(stderr).filter((r) => r.status !== undefined);
  return answered.map((r) => {
    if (r.status !== 200) return `${r.kind} ${String(r.status)}`;
    return r.kind === 'stream' && r.resourceVersion === undefined ? 'stream, unended' : r.kind;
  });
}

test('where lists are streamed, the first list is one watch whose initial events are told as a paged list is', STREAMS, async () => {
  const ns = await env.cluster.createNamespace('streamed');
  await env.createMember(ns, 'ann', 'blue');
  await env.createMember(ns, 'bob', 'red');
  const runs: Array<{ paged: boolean; watchOnly: boolean; watch: RunningCli }> = [];
  for (const paged of [false, true]) {
    for (const watchOnly of [false, true]) {
      runs.push({ paged, watchOnly, watch: await startWatch(ns, paged ? PAGED : STREAMED, watchOnly ? ['--watch-only'] : []) });
    }
  }
  await env.createMember(ns, 'cid', 'green');
  await env.setTeam(ns, 'bob', 'blue');
  await env.deleteMember(ns, 'ann');
  const told = ['ADDED cid green watch', 'MODIFIED bob blue watch', 'DELETED ann blue watch'];
  const initial: string[][] = [];
  for (const { paged, watchOnly, watch } of runs) {
    await watch.waitForLine((l) => l.includes('"DELETED"'));
    const run = await stop(watch);
    const what = `${paged ? 'paged' : 'streamed'}${watchOnly ? ', --watch-only' : ''}:\n${run.stderr}`;
    // The starting state is greeted, or with --watch-only only the changes after it are told: on both paths.
    assert.deepEqual(run.told, [...(watchOnly ? [] : ['ADDED ann blue initial', 'ADDED bob red initial']), ...told], what);
    assert.deepEqual(run.requests, paged ? ['list', 'watch'] : ['stream'], what);
    if (!watchOnly) initial.push(watch.lines.filter((l) => l.includes('"initial"')).map((l) => l.replace(/"time":"[^"]*"/, '')));
  }
  // Greeted with the same resourceVersions and uids: the same state, either way.
  assert.deepEqual(initial[0], initial[1]);
});

test('the operator lists with one watch stream too, listed once, each member welcomed once', STREAMS, async () => {
  for (const [vars, requests] of [
    [STREAMED, ['stream']],
    [PAGED, ['list', 'watch']],
  ] as const) {
    // A namespace each: a member welcomed once is not welcomed again by the next operator.
    const ns = await env.cluster.createNamespace('streamed-op');
    await env.createMember(ns, 'ann', 'blue');
    await env.createMember(ns, 'bob', 'red');
    const op = startOperator(env, ['--debug', '--watch-namespace', ns, '--no-finalizer'], { env: vars });
    try {
      await op.waitFor(announced('Welcomed', 'ann'));
      await op.waitFor(announced('Welcomed', 'bob'));
      await stopOperator(op);
    } finally {
      await killAll([op]);
    }
    const what = `${JSON.stringify(vars)}:\n${op.cli.stderr()}`;
    assert.deepEqual(
      op
        .entries()
        .filter((e) => e.event === 'Listed')
        .map((e) => e.msg),
      ['listed 2 members'],
      what,
    );
    assert.deepEqual(op.announcements(ns).sort(), ['Welcomed ann blue', 'Welcomed bob red'], what);
    assert.deepEqual(memberRequests(op.cli.stderr()), requests, what);
  }
});

test('a server that refuses streamed lists gets a paged list and a watch, and is not asked again', async () => {
  const faults = await startHttpFaultProxy(env.cp);
  try {
    // 1.20 refuses by itself; a server that streams lists is made to refuse by the proxy, with 1.20's own answer.
    faults.refuseStreamedLists(STREAMS.skip === undefined);
    const ns = await env.cluster.createNamespace('refused');
    await env.createMember(ns, 'ann', 'blue');
    await env.createMember(ns, 'bob', 'red');
    const watch = await startWatch(ns, STREAMED, [], faults.kubeconfig);
    await env.createMember(ns, 'cid', 'green');
    await watch.waitForLine((l) => l.includes('"cid"'));
    // A relist (after a 410) is paged as well: the refusal is remembered.
    assert.equal(faults.sendToWatches(EXPIRED), 1);
    await waitFor('the relist', () => memberRequests(watch.stderr()).filter((r) => r === 'watch').length === 2 || undefined);
    await env.createMember(ns, 'dan', 'blue');
    await watch.waitForLine((l) => l.includes('"dan"'));
    const run = await stop(watch);
    assert.deepEqual(run.told, ['ADDED ann blue initial', 'ADDED bob red initial', 'ADDED cid green watch', 'ADDED dan blue watch']);
    assert.deepEqual(run.requests, ['stream 422', 'list', 'watch', 'list', 'watch'], run.stderr);
    assert.match(
      run.stderr,
      /^debug: listing instead of streaming the list: the API server answered HTTP 422: .*resourceVersionMatch is forbidden for watch/m,
    );
  } finally {
    await faults.close();
  }
});

test('initial events that never end: paged after 10 s of silence, at once when the stream ends or expires', STREAMS, async () => {
  const faults = await startHttpFaultProxy(env.cp);
  try {
    const cases: Array<[InitialEventsEnd, string[]]> = [
      ['withhold', []],
      ['end', []],
      ['expire', []],
      ['end', ['--watch-only']],
    ];
    for (const [how, extra] of cases) {
      faults.initialEventsEnd(how);
      const ns = await env.cluster.createNamespace(`unended-${how}`);
      await env.createMember(ns, 'ann', 'blue');
      await env.createMember(ns, 'bob', 'red');
      const started = Date.now();
      const watch = await startWatch(ns, STREAMED, extra, faults.kubeconfig);
      // The initial state is complete only with the paged list, after the silence: not ready before.
      if (how === 'withhold') assert.ok(Date.now() - started >= 10_000, `ready after ${Date.now() - started} ms`);
      await env.createMember(ns, 'cid', 'green');
      await watch.waitForLine((l) => l.includes('"cid"'));
      const run = await stop(watch);
      const what = `${how} ${extra.join(' ')}:\n${run.stderr}`;
      // Greeted from the stream, not again by the list that completes the starting state.
      const greeted = extra.length > 0 ? [] : ['ADDED ann blue initial', 'ADDED bob red initial'];
      assert.deepEqual(run.told, [...greeted, 'ADDED cid green watch'], what);
      assert.deepEqual(run.requests, ['stream, unended', 'list', 'watch'], what);
      assert.match(run.stderr, /^debug: listing instead of streaming the list: /m, what);
    }
  } finally {
    await faults.close();
  }
});

test('a KUBE_FEATURE_WatchListClient that is neither true nor false is refused before any request', async () => {
  for (const args of [['watch'], ['operator', '--metrics-bind-address', '0', '--health-probe-bind-address', '0']]) {
    const r = await env.cli(['--debug', ...args], { env: { KUBE_FEATURE_WatchListClient: 'yes' } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: KUBE_FEATURE_WatchListClient="yes" is neither true nor false$/m);
    assert.doesNotMatch(r.stderr, /debug: GET/);
  }
});
