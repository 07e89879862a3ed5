import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startTcpProxy } from '../harness/tcp-proxy.js';
import {
  announced,
  FINALIZER,
  freePort,
  httpGet,
  killAll,
  memberStatus,
  parsePrometheus,
  startOperator,
  stopOperator,
  waitForEvents,
} from './operator-support.js';
import { GROUP, lines, schemalessCrd, useControlPlane, waitFor } from './support.js';

const env = useControlPlane();

test("welcomes, moves and sees off in the seed's words, with status, finalizer and Events", async () => {
  const ns = await env.cluster.createNamespace('op-words');
  await env.createMember(ns, 'patrick', 'blue');
  await env.createMember(ns, 'ann');
  const op = startOperator(env, ['--watch-namespace', ns]);
  try {
    await op.waitFor(announced('Welcomed', 'patrick'));
    await op.waitFor(announced('Welcomed', 'ann'));
    assert.deepEqual(await recorded(ns, 'patrick'), { finalizers: [FINALIZER], team: 'blue', at: true, generation: 1 });
    // Welcomed without a team: announcedAt alone.
    assert.deepEqual(await recorded(ns, 'ann'), { finalizers: [FINALIZER], team: undefined, at: true, generation: 1 });

    await env.setTeam(ns, 'patrick', 'red');
    const moved = await op.waitFor(announced('Moved', 'patrick'));
    assert.deepEqual([moved.msg, moved.team, moved.previousTeam], ['patrick moved from team blue to team red', 'red', 'blue']);
    await env.setTeam(ns, 'ann', 'blue');
    await op.waitFor(announced('Moved', 'ann'));
    await env.deleteMember(ns, 'patrick');
    await op.waitFor(announced('Farewell', 'patrick'));
    await waitFor('patrick to be gone', async () => ((await env.getMember(ns, 'patrick')) === undefined ? true : undefined));
    assert.deepEqual(await recorded(ns, 'ann'), { finalizers: [FINALIZER], team: 'blue', at: true, generation: 2 });

    const events = await waitForEvents(env, ns, [
      'Welcomed welcome patrick to the team blue x1',
      'Welcomed welcome ann x1',
      'Moved patrick moved from team blue to team red x1',
      'Moved ann joined the team blue x1',
      'Farewell sad to see you go patrick x1',
    ]);
    for (const e of events) {
      assert.deepEqual(
        [e.type, e.source?.component, e.reportingComponent, e.reportingInstance, e.involvedObject.kind, e.involvedObject.apiVersion],
        ['Normal', 'member-watch', 'member-watch', op.identity(), 'Member', `${GROUP}/v1`],
      );
    }
    await stopOperator(op);
    const messages = op
      .entries()
      .filter((e) => e.namespace === ns)
      .map((e) => e.msg);
    // The two members listed at the start are welcomed in the order the list gives, which the API does not fix.
    assert.deepEqual(
      [...messages.slice(0, 2).sort(), ...messages.slice(2)],
      [
        'welcome ann',
        'welcome patrick to the team blue',
        'patrick moved from team blue to team red',
        'ann joined the team blue',
        'sad to see you go patrick',
      ],
    );
  } finally {
    await killAll([op]);
  }
});

/** What the operator keeps on a member: its finalizers and the status it wrote (announcedAt: whether it is a time). */
async function recorded(ns: string, name: string): Promise<Record<string, unknown>> {
  const m = await memberStatus(env, ns, name);
  const status = m?.status ?? {};
  return {
    finalizers: m?.metadata.finalizers,
    team: status.announcedTeam,
    at: !Number.isNaN(Date.parse(status.announcedAt ?? '')),
    generation: status.observedGeneration,
  };
}

test('the text log, over every namespace', async () => {
  const ns = await env.cluster.createNamespace('op-text');
  await env.createMember(ns, 'tess', 'green');
  const op = env.spawn(['operator', '--metrics-bind-address', '0', '--health-probe-bind-address', '0']);
  try {
    await op.waitForLine((l) => l.endsWith(` INFO  welcome ${ns}/tess to the team green`));
    op.kill('SIGTERM');
    const result = await op.done;
    assert.equal(result.code, 0);
    assert.match(
      lines(result.stdout)[0] ?? '',
      /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}starting the member-watch operator identity=\S+ watching=every namespace finalizer=on lease=none$/,
    );
    assert.doesNotMatch(result.stdout, /\u001b/);
    assert.equal(result.stderr, '');
  } finally {
    op.kill('SIGKILL');
  }
});

test('after a restart the log holds exactly what changed meanwhile; status and Events agree', async () => {
  const ns = await env.cluster.createNamespace('op-restart');
  for (const [name, team] of [
    ['a', 'blue'],
    ['b', 'red'],
    ['c', undefined],
    ['d', 'blue'],
  ] as const)
    await env.createMember(ns, name, team);
  const first = startOperator(env, ['--watch-namespace', ns]);
  let second: ReturnType<typeof startOperator> | undefined;
  try {
    for (const name of ['a', 'b', 'c', 'd']) await first.waitFor(announced('Welcomed', name));
    await stopOperator(first);

    // While no operator runs: a newcomer, two team changes, a deletion, a member that came and went
    // without ever being seen, and a team that changed and changed back.
    await env.createMember(ns, 'e', 'green');
    await env.setTeam(ns, 'a', 'red');
    await env.setTeam(ns, 'c', 'blue');
    await env.deleteMember(ns, 'b');
    await env.createMember(ns, 'f', 'grey');
    await env.deleteMember(ns, 'f');
    await env.setTeam(ns, 'd', 'green');
    await env.setTeam(ns, 'd', 'blue');
    assert.ok((await memberStatus(env, ns, 'b'))?.metadata.deletionTimestamp, 'b waits for its goodbye');

    second = startOperator(env, ['--watch-namespace', ns]);
    await second.waitFor(announced('Farewell', 'b'));
    await waitFor('d to be observed', async () => {
      const d = await memberStatus(env, ns, 'd');
      return d?.status?.observedGeneration === d?.metadata.generation ? true : undefined;
    });
    await waitForEvents(env, ns, [
      'Welcomed welcome a to the team blue x1',
      'Welcomed welcome b to the team red x1',
      'Welcomed welcome c x1',
      'Welcomed welcome d to the team blue x1',
      'Welcomed welcome e to the team green x1',
      'Moved a moved from team blue to team red x1',
      'Moved c joined the team blue x1',
      'Farewell sad to see you go b x1',
    ]);
    await stopOperator(second);
    assert.deepEqual(second.announcements(ns).sort(), ['Farewell b red', 'Moved a red', 'Moved c blue', 'Welcomed e green']);
    assert.equal(await env.getMember(ns, 'b'), undefined);
    for (const name of ['a', 'c', 'd', 'e']) {
      const m = await memberStatus(env, ns, name);
      assert.equal(m?.status?.announcedTeam, m?.spec?.memberOf, `${name}: the status names the team announced last`);
    }
  } finally {
    await killAll([first, ...(second ? [second] : [])]);
  }
});

test('release-finalizers removes what a stopped operator left, and only that', async () => {
  const ns = await env.cluster.createNamespace('op-release');
  await env.createMember(ns, 'una', 'blue');
  await env.createMember(ns, 'vic');
  const op = startOperator(env, ['--watch-namespace', ns]);
  try {
    await op.waitFor(announced('Welcomed', 'una'));
    await op.waitFor(announced('Welcomed', 'vic'));
    await waitFor('both held', async () => ((await memberStatus(env, ns, 'vic'))?.metadata.finalizers?.length === 1 ? true : undefined));
    await stopOperator(op);
  } finally {
    await killAll([op]);
  }
  await env.cluster.custom.patchNamespacedCustomObject({
    ...{ group: GROUP, version: 'v1', plural: 'members', namespace: ns, name: 'vic' },
    body: [{ op: 'add', path: '/metadata/finalizers/0', value: 'example.com/keep' }],
  });
  const r = await env.cli(['-n', ns, 'release-finalizers']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `finalizer ${FINALIZER} removed from 2 members\n`);
  assert.equal((await memberStatus(env, ns, 'una'))?.metadata.finalizers, undefined);
  assert.deepEqual((await memberStatus(env, ns, 'vic'))?.metadata.finalizers, ['example.com/keep']);
  await env.deleteMember(ns, 'una');
  await waitFor('una gone without an operator', async () => ((await env.getMember(ns, 'una')) === undefined ? true : undefined));
  const again = await env.cli(['-n', ns, 'release-finalizers']);
  assert.equal(again.stdout, `finalizer ${FINALIZER} removed from 0 members\n`);
});

test('each move is an Event of its own, named after the announcement it continues: a repeated move is not a repeat', async () => {
  const ns = await env.cluster.createNamespace('op-repeat');
  await env.createMember(ns, 'pat', 'blue');
  const op = startOperator(env, ['--watch-namespace', ns]);
  try {
    await op.waitFor(announced('Welcomed', 'pat'));
    const moves = { red: 1 };
    for (const team of ['red', 'blue', 'red']) {
      await env.setTeam(ns, 'pat', team);
      await op.waitFor((e) => e.event === 'Moved' && e.team === team, { count: team === 'red' ? moves.red++ : 1 });
    }
    const events = await waitForEvents(env, ns, [
      'Welcomed welcome pat to the team blue x1',
      'Moved pat moved from team blue to team red x1',
      'Moved pat moved from team red to team blue x1',
      'Moved pat moved from team blue to team red x1',
    ]);
    const uid = (await memberStatus(env, ns, 'pat'))?.metadata.uid;
    const names = events.map((e) => e.metadata.name.replace(`${uid}.`, 'UID.').replace(/\d{13}$/, 'MS'));
    assert.deepEqual(names.sort(), ['UID.moved.MS', 'UID.moved.MS', 'UID.moved.MS', 'UID.welcomed']);
    assert.equal(new Set(events.map((e) => e.metadata.name)).size, 4);
    await stopOperator(op);
  } finally {
    await killAll([op]);
  }
});

test('probes and metrics answer; the metrics parse as Prometheus text and count what happened', async () => {
  const ns = await env.cluster.createNamespace('op-metrics');
  for (const name of ['m1', 'm2', 'm3']) await env.createMember(ns, name, 'blue');
  const [metricsPort, probePort] = [await freePort(), await freePort()];
  const proxy = await startTcpProxy(Number(new URL(env.cp.server).port));
  proxy.setMode('refuse');
  const kubeconfig = env.cp.kubeconfigFor({ server: `https://127.0.0.1:${proxy.port}` });
  const op = startOperator(
    env,
    [
      '--watch-namespace',
      ns,
      '--metrics-bind-address',
      `127.0.0.1:${metricsPort}`,
      '--health-probe-bind-address',
      `127.0.0.1:${probePort}`,
    ],
    { kubeconfig },
  );
  const probe = (path: string): ReturnType<typeof httpGet> => httpGet(`http://127.0.0.1:${probePort}${path}`);
  try {
    await op.waitFor((e) => e.event === 'Reconnecting');
    assert.deepEqual([(await probe('/healthz')).status, (await probe('/healthz')).body], [200, 'ok']);
    const unready = await probe('/readyz');
    assert.deepEqual([unready.status, unready.body], [503, 'not ready: the members are not listed yet']);
    proxy.setMode('pass');
    for (const name of ['m1', 'm2', 'm3']) await op.waitFor(announced('Welcomed', name));
    assert.deepEqual([(await probe('/readyz')).status, (await probe('/readyz')).body], [200, 'ok']);
    assert.equal((await probe('/nope')).status, 404);

    await env.deleteMember(ns, 'm3');
    await op.waitFor(announced('Farewell', 'm3'));
    const scrape = async (): Promise<Map<string, number>> => {
      const res = await httpGet(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.type, /^text\/plain; version=0\.0\.4/);
      return parsePrometheus(res.body);
    };
    const m = await waitFor('every Event counted', async () => {
      const now = await scrape();
      return now.get('member_watch_kube_events_total{result="recorded"}') === 4 ? now : undefined;
    });
    const reconnects = m.get('member_watch_reconnects_total') ?? 0;
    const expected: Record<string, number> = {
      [`member_watch_members{namespace="${ns}"}`]: 2,
      'member_watch_announcements_total{event="Welcomed"}': 3,
      'member_watch_announcements_total{event="Moved"}': 0,
      'member_watch_announcements_total{event="Farewell"}': 1,
      'member_watch_kube_events_total{result="refused"}': 0,
      member_watch_writes_refused: 0,
      'member_watch_watch_events_total{type="ADDED"}': 3,
      'member_watch_watch_events_total{type="DELETED"}': 1,
      member_watch_relists_total: 0,
      'member_watch_leader{lease=""}': 1,
      member_watch_reconcile_errors_total: 0,
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(m.get(key), value, key);
    const reconnectLines = op.entries().filter((e) => e.event === 'Reconnecting').length;
    assert.equal(reconnects, reconnectLines, 'one reconnect counted per reconnect logged');
    assert.ok((m.get('member_watch_reconcile_duration_seconds_count') ?? 0) >= 3);
    assert.ok(m.has('process_cpu_user_seconds_total') && m.has('nodejs_heap_size_used_bytes'), 'the process metrics are there too');
    await stopOperator(op);
  } finally {
    await killAll([op]);
    await proxy.close();
  }
});

test('--no-finalizer: no finalizer is added, leftovers are removed, a deletion seen live gets its goodbye', async () => {
  const ns = await env.cluster.createNamespace('op-nofin');
  await env.createMember(ns, 'quinn', 'blue');
  await env.cluster.custom.patchNamespacedCustomObject({
    group: GROUP,
    version: 'v1',
    plural: 'members',
    namespace: ns,
    name: 'quinn',
    body: [{ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] }],
  });
  const op = startOperator(env, ['--watch-namespace', ns, '--no-finalizer']);
  let again: ReturnType<typeof startOperator> | undefined;
  try {
    await op.waitFor(announced('Welcomed', 'quinn'));
    await waitFor('the leftover finalizer to go', async () =>
      (await memberStatus(env, ns, 'quinn'))?.metadata.finalizers === undefined ? true : undefined,
    );
    await env.createMember(ns, 'rita');
    await op.waitFor(announced('Welcomed', 'rita'));
    assert.equal((await memberStatus(env, ns, 'rita'))?.metadata.finalizers, undefined);
    await env.deleteMember(ns, 'quinn');
    await op.waitFor(announced('Farewell', 'quinn'));
    await stopOperator(op);

    // The documented loss: without the finalizer nothing holds a member deleted while no operator runs.
    await env.deleteMember(ns, 'rita');
    await env.createMember(ns, 'sam');
    again = startOperator(env, ['--watch-namespace', ns, '--no-finalizer']);
    await again.waitFor(announced('Welcomed', 'sam'));
    await stopOperator(again);
    assert.deepEqual(again.announcements(ns), ['Welcomed sam']);
  } finally {
    await killAll([op, ...(again ? [again] : [])]);
  }
});

test('writes refused by RBAC: not ready, a metric, one error line naming release-finalizers; once allowed, each member announced once', async () => {
  const [open, closed] = [await env.cluster.createNamespace('op-open'), await env.cluster.createNamespace('op-closed')];
  const rbac = await grantOperatorRights(['members', 'members/status'], open);
  await env.createMember(open, 'olga', 'blue');
  await env.createMember(closed, 'carl', 'blue');
  await env.createMember(closed, 'cleo');
  const [metricsPort, probePort] = [await freePort(), await freePort()];
  const endpoints = ['--metrics-bind-address', `127.0.0.1:${metricsPort}`, '--health-probe-bind-address', `127.0.0.1:${probePort}`];
  const op = startOperator(env, endpoints, { kubeconfig: env.cp.kubeconfigFor({ context: 'nobody' }) });
  const ready = async (): Promise<string> => {
    const res = await httpGet(`http://127.0.0.1:${probePort}/readyz`);
    return `${res.status} ${res.body}`;
  };
  const refusedGauge = async (): Promise<number | undefined> =>
    parsePrometheus((await httpGet(`http://127.0.0.1:${metricsPort}/metrics`)).body).get('member_watch_writes_refused');
  try {
    await op.waitFor(announced('Welcomed', 'olga'));
    const refused = await op.waitFor((e) => e.event === 'WritesRefused');
    assert.equal(refused.level, 'error');
    assert.match(refused.msg, /forbidden.*\(HTTP 403\).*`member-watch release-finalizers` lets them go$/);
    const error = await op.waitFor((e) => e.event === 'ReconcileError' && e.namespace === closed);
    assert.match(
      error.msg,
      new RegExp(`^could not reconcile ${closed}/c(arl|leo), retrying in \\d+\\.\\ds: .*forbidden.* \\(HTTP 403\\)$`),
    );
    // Retried, not given up: the same member fails again after its backoff.
    await op.waitFor((e) => e.event === 'ReconcileError' && e.name === error.name, { count: 3 });
    assert.deepEqual(op.announcements(closed), []);
    assert.match(await ready(), /^503 not ready: the API server refuses the operator's writes to members: .*forbidden/);
    assert.equal(await refusedGauge(), 1);

    // The finalizer may be added, the status not written: the Events commit the welcomes, their records wait.
    await grantInNamespace(rbac, closed, ['members']);
    await op.waitFor(announced('Welcomed', 'carl'), { timeoutMs: 90_000 });
    await op.waitFor(announced('Welcomed', 'cleo'), { timeoutMs: 90_000 });
    await grantInNamespace(rbac, closed, ['members/status']);
    await waitFor(
      'the welcomes recorded',
      async () =>
        (await memberStatus(env, closed, 'carl'))?.status?.announcedAt && (await memberStatus(env, closed, 'cleo'))?.status?.announcedAt
          ? true
          : undefined,
      90_000,
    );
    // Ready once a write goes through: a member still backing off from its refusals may be the next to write (up to
    // 60 s, jittered).
    await waitFor('ready again', async () => ((await ready()) === '200 ok' ? true : undefined), 90_000);
    assert.equal(await refusedGauge(), 0);
    await stopOperator(op);
    assert.deepEqual(op.announcements(closed).sort(), ['Welcomed carl blue', 'Welcomed cleo']);
    assert.deepEqual(op.announcements(open), ['Welcomed olga blue']);
    assert.equal(op.entries().filter((e) => e.event === 'WritesRefused').length >= 1, true);
  } finally {
    await killAll([op]);
  }
});

test('a watch the server ends on time and resumes at once is no reconnection: Reconnected comes only after an outage', async () => {
  const ns = await env.cluster.createNamespace('op-renew');
  await env.createMember(ns, 'wes');
  const proxy = await startTcpProxy(Number(new URL(env.cp.server).port));
  const op = startOperator(env, ['--watch-namespace', ns, '--watch-timeout', '1s'], {
    kubeconfig: env.cp.kubeconfigFor({ server: `https://127.0.0.1:${proxy.port}` }),
  });
  try {
    await op.waitFor((e) => e.event === 'Watching');
    const opened = proxy.connections;
    // The server ends each watch after 1 s: several renewals, each resumed at once.
    await new Promise((r) => setTimeout(r, 4_500));
    assert.ok(proxy.connections >= opened, 'the watch kept going');
    assert.deepEqual(
      op.entries().filter((e) => ['Reconnected', 'Reconnecting'].includes(e.event)),
      [],
    );
    proxy.setMode('refuse');
    proxy.cutAll();
    await op.waitFor((e) => e.event === 'Reconnecting');
    proxy.setMode('pass');
    const back = await op.waitFor((e) => e.event === 'Reconnected');
    assert.deepEqual([back.level, back.msg], ['info', 'reconnected']);
    await stopOperator(op);
  } finally {
    await killAll([op]);
    await proxy.close();
  }
});

test('what is announced: each team the operator observes, in order, from the last one announced; `watch` sees every change', async (t) => {
  const ns = await env.cluster.createNamespace('op-quick');
  await env.createMember(ns, 'pat', 't0');
  const op = startOperator(env, ['--watch-namespace', ns]);
  const watch = env.spawn(['watch', '-n', ns, '-o', 'json']);
  try {
    await op.waitFor(announced('Welcomed', 'pat'));
    await watch.waitForLine((l) => l.includes('"type":"ADDED"'));
    const teams = Array.from({ length: 8 }, (_, i) => `t${i + 1}`);
    // Eight changes as fast as the API server takes them (patches without a precondition, as apply-member's are):
    // the operator may see only some of them.
    for (const team of teams) {
      await env.cluster.custom.patchNamespacedCustomObject({
        group: GROUP,
        version: 'v1',
        plural: 'members',
        namespace: ns,
        name: 'pat',
        body: [{ op: 'add', path: '/spec/memberOf', value: team }],
      });
    }
    await op.waitFor((e) => e.event === 'Moved' && e.team === 't8');
    await watch.waitForLine((l) => l.includes('"team":"t8"'));
    const moves = op.entries().filter((e) => e.event === 'Moved');
    const said = moves.map((e) => String(e.team));
    t.diagnostic(`8 changes, ${said.length} moves announced: ${said.join(', ')}`);
    // A chain: each move leaves the team the one before announced, and the teams come in the order they were set.
    assert.deepEqual(
      moves.map((e) => e.previousTeam),
      ['t0', ...said.slice(0, -1)],
    );
    assert.deepEqual(
      said,
      teams.filter((t) => said.includes(t)),
    );
    const seen = watch.lines.map((l) => JSON.parse(l) as { type: string; team: string }).filter((e) => e.type === 'MODIFIED');
    assert.deepEqual(
      seen.map((e) => e.team),
      teams,
    );
    const events = await waitForEvents(env, ns, ['Welcomed welcome pat to the team t0 x1', ...moves.map((e) => `Moved ${e.msg} x1`)]);
    assert.equal(events.length, moves.length + 1);
    await stopOperator(op);
  } finally {
    watch.kill('SIGTERM');
    await killAll([op]);
  }
});

test('a status edited by hand: cleared, it is restored from the Welcomed Event without a second welcome; over the limits of spec, refused', async () => {
  const ns = await env.cluster.createNamespace('op-status');
  await env.createMember(ns, 'hal', 'blue');
  const op = startOperator(env, ['--watch-namespace', ns]);
  const status = { group: GROUP, version: 'v1', plural: 'members', namespace: ns, name: 'hal' };
  try {
    await op.waitFor(announced('Welcomed', 'hal'));
    const before = await waitFor('the status', async () => (await memberStatus(env, ns, 'hal'))?.status?.announcedAt);
    for (const cleared of [null, { announcedTeam: 'blue' }]) {
      await env.cluster.custom.replaceNamespacedCustomObjectStatus({
        ...status,
        body: { ...(await memberStatus(env, ns, 'hal')), status: cleared },
      });
      await waitFor('the status restored', async () =>
        (await memberStatus(env, ns, 'hal'))?.status?.announcedAt === before ? true : undefined,
      );
    }
    assert.deepEqual(op.announcements(ns), ['Welcomed hal blue']);
    const long = { ...(await memberStatus(env, ns, 'hal')), status: { announcedTeam: 'x'.repeat(64), announcedAt: before } };
    await assert.rejects(env.cluster.custom.replaceNamespacedCustomObjectStatus({ ...status, body: long }), /announcedTeam/);
    await stopOperator(op);
  } finally {
    await killAll([op]);
  }
});

test('bad input: one line, the documented exit code', async (t) => {
  await t.test('unknown flags and bad values are usage errors', async () => {
    for (const args of [
      ['--bogus'],
      ['--log-format', 'xml'],
      ['--metrics-bind-address', 'nope'],
      ['--health-probe-bind-address', ':99999'],
      ['--leader-elect', '--leader-elect-renew-deadline', '20s'],
      ['--leader-elect', '--leader-election-id', 'Not_A_Name'],
      ['--watch-namespace', 'UPPER'],
      ['--max-concurrent-reconciles', '0'],
    ]) {
      const r = await env.cli(['operator', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout.includes('welcome'), false);
    }
  });

  await t.test('a bind address in use', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      // The metrics bind first and must not keep the process alive once the probes fail to.
      const metrics = `127.0.0.1:${await freePort()}`;
      const r = await env.cli(['operator', '--metrics-bind-address', metrics, '--health-probe-bind-address', `127.0.0.1:${port}`], {
        timeoutMs: 15_000,
      });
      assert.equal(r.code, 2, r.stderr);
      assert.deepEqual(lines(r.stderr), [
        `error: cannot listen on 127.0.0.1:${port} for the health probes: the address is already in use`,
        'hint: choose another address with --health-probe-bind-address, or --health-probe-bind-address=0 to turn the health probes off',
      ]);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  await t.test('a namespace without the rights to the Lease', async () => {
    const ns = await env.cluster.createNamespace('op-nolease');
    await grantOperatorRights(['members', 'members/status'], undefined);
    const r = await env.cli(
      ['operator', '--leader-elect', '--leader-election-namespace', ns, '--metrics-bind-address', '0', '--health-probe-bind-address', '0'],
      { kubeconfig: env.cp.kubeconfigFor({ context: 'nobody' }) },
    );
    assert.equal(r.code, 3, r.stderr);
    const stderr = lines(r.stderr);
    assert.match(
      stderr[0] ?? '',
      new RegExp(`^error: forbidden: user nobody may not get leases\\.coordination\\.k8s\\.io in namespace ${ns} \\(`),
    );
    assert.match(stderr[1] ?? '', /^hint: /);
    assert.equal(stderr.length, 2);
  });
});

test('an old Member CRD without the status subresource: exit 4, and how to upgrade it', async () => {
  const current = await env.cluster.ext.readCustomResourceDefinition({ name: `members.${GROUP}` });
  await env.cluster.ext.replaceCustomResourceDefinition({
    name: `members.${GROUP}`,
    body: schemalessCrd(current.metadata?.resourceVersion),
  });
  try {
    await waitFor('discovery without members/status', async () => {
      const list = (await env.cluster.kc
        .makeApiClient((await import('@kubernetes/client-node')).CustomObjectsApi)
        .getAPIResources({ group: GROUP, version: 'v1' })) as {
        resources: Array<{ name: string }>;
      };
      return list.resources.some((r) => r.name === 'members/status') ? undefined : true;
    });
    const r = await env.cli(['operator', '--metrics-bind-address', '0', '--health-probe-bind-address', '0']);
    assert.equal(r.code, 4, r.stderr);
    assert.deepEqual(lines(r.stderr), [
      'error: the Member CRD has no status subresource, where the operator records what it announced',
      'hint: upgrade it with `member-watch install-crd` (`--dry-run` shows the change first)',
    ]);
  } finally {
    const installed = await env.cli(['install-crd']);
    assert.equal(installed.code, 0, installed.stderr);
  }
});

interface Rbac {
  clusterRole: string;
}

/**
 * Gives the harness's user "nobody" what the operator needs cluster-wide (list/watch members, Events), and the
 * member writes given, cluster-wide (namespace undefined) or in one namespace.
 */
async function grantOperatorRights(writes: string[], namespace: string | undefined): Promise<Rbac> {
  const rbac = env.cluster.kc.makeApiClient((await import('@kubernetes/client-node')).RbacAuthorizationV1Api);
  const clusterRole = `op-read-${Math.random().toString(16).slice(2, 8)}`;
  await rbac.createClusterRole({
    body: {
      metadata: { name: clusterRole },
      rules: [
        { apiGroups: [GROUP], resources: ['members'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'get'] },
      ],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: clusterRole },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'nobody' }],
    },
  });
  const role = { metadata: { name: `${clusterRole}-write` }, rules: [{ apiGroups: [GROUP], resources: writes, verbs: ['patch'] }] };
  const subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'nobody' }];
  if (namespace === undefined) {
    await rbac.createClusterRole({ body: role });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: role.metadata,
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
        subjects,
      },
    });
  } else {
    await rbac.createNamespacedRole({ namespace, body: role });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: role.metadata,
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name },
        subjects,
      },
    });
  }
  return { clusterRole };
}

async function grantInNamespace(rbac: Rbac, namespace: string, writes: string[]): Promise<void> {
  const api = env.cluster.kc.makeApiClient((await import('@kubernetes/client-node')).RbacAuthorizationV1Api);
  const name = `${rbac.clusterRole}-${writes.join('-').replace(/\//g, '-')}`;
  const subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'nobody' }];
  await api.createNamespacedRole({
    namespace,
    body: { metadata: { name }, rules: [{ apiGroups: [GROUP], resources: writes, verbs: ['patch'] }] },
  });
  await api.createNamespacedRoleBinding({
    namespace,
    body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects },
  });
}
