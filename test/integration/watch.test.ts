import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { CLI_PATH } from '../harness/cli.js';
import { lines, useControlPlane, waitFor } from './support.js';

const env = useControlPlane();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let readyFiles = 0;

/** Starts `watch` and waits until it is live (its --ready-file exists), so no change can race it. */
async function startWatch(args: string[]): Promise<ReturnType<typeof env.spawn>> {
  const ready = join(env.cp.dir, `ready-${++readyFiles}`);
  const watch = env.spawn(['watch', '--ready-file', ready, ...args]);
  await waitFor('the watch to be ready', () => existsSync(ready) || undefined);
  return watch;
}

test('every kind of event gets its message, in order', async () => {
  const ns = await env.cluster.createNamespace('words');
  const watch = await startWatch(['-n', ns]);
  await env.createMember(ns, 'patrick', 'blue');
  await watch.waitForLine((l) => l === 'welcome patrick to the team blue');
  await env.setTeam(ns, 'patrick', 'red');
  await watch.waitForLine((l) => l === 'patrick moved from team blue to team red');
  await env.setTeam(ns, 'patrick', undefined);
  await watch.waitForLine((l) => l === 'patrick left the team red');
  await env.setTeam(ns, 'patrick', 'green');
  await watch.waitForLine((l) => l === 'patrick joined the team green');
  await env.cli(['-n', ns, 'apply-member', 'patrick', '--team', 'green', '-l', 'x=y']);
  await env.createMember(ns, 'sandy');
  await watch.waitForLine((l) => l === 'welcome sandy');
  await env.deleteMember(ns, 'patrick');
  await watch.waitForLine((l) => l === 'sad to see you go patrick');
  watch.kill('SIGINT');
  const result = await watch.done;
  assert.equal(result.code, 0);
  // The label change kept the team: nothing was said about it.
  assert.deepEqual(lines(result.stdout), [
    'welcome patrick to the team blue',
    'patrick moved from team blue to team red',
    'patrick left the team red',
    'patrick joined the team green',
    'welcome sandy',
    'sad to see you go patrick',
  ]);
  assert.doesNotMatch(result.stdout, /\u001b/, 'no colour when stdout is not a terminal');
});

test('existing members are greeted first; --watch-only skips them; --verbose shows quiet updates', async () => {
  const ns = await env.cluster.createNamespace('existing');
  await env.createMember(ns, 'ann', 'blue');
  await env.createMember(ns, 'bob');
  const greeted = await env.cli(['-n', ns, 'watch', '--count', '2']);
  assert.equal(greeted.code, 0, greeted.stderr);
  // The first list comes from the API server's watch cache, which keeps no order.
  assert.deepEqual(lines(greeted.stdout).sort(), ['welcome ann to the team blue', 'welcome bob']);

  const watch = await startWatch(['-n', ns, '--watch-only', '--verbose']);
  await env.cli(['-n', ns, 'apply-member', 'ann', '--team', 'blue', '-l', 'x=y']);
  await watch.waitForLine((l) => l === 'ann was updated');
  watch.kill('SIGTERM');
  const result = await watch.done;
  assert.equal(result.code, 0);
  assert.deepEqual(lines(result.stdout), ['ann was updated']);
});

test('-o json prints one documented object per line', async () => {
  const ns = await env.cluster.createNamespace('json');
  await env.createMember(ns, 'ann', 'blue');
  const watch = await startWatch(['-n', ns, '-o', 'json']);
  await env.setTeam(ns, 'ann', 'red');
  await env.deleteMember(ns, 'ann');
  await watch.waitForLine((l) => l.includes('"DELETED"'));
  watch.kill('SIGINT');
  const events = lines((await watch.done).stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
  const uid = (await env.cluster.custom.listNamespacedCustomObject({
    group: 'helloworld.apimeister.com',
    version: 'v1',
    plural: 'members',
    namespace: ns,
  })) as { items: unknown[] };
  assert.equal(uid.items.length, 0);
  assert.deepEqual(
    events.map((e) => [e.type, e.name, e.namespace, e.team, e.previousTeam, e.source]),
    [
      ['ADDED', 'ann', ns, 'blue', null, 'initial'],
      ['MODIFIED', 'ann', ns, 'red', 'blue', 'watch'],
      ['DELETED', 'ann', ns, 'red', null, 'watch'],
    ],
  );
  for (const e of events) {
    assert.deepEqual(Object.keys(e), [
      'schemaVersion',
      'type',
      'namespace',
      'name',
      'uid',
      'team',
      'previousTeam',
      'resourceVersion',
      'time',
      'source',
      'selection',
    ]);
    assert.equal(e.schemaVersion, 1);
    assert.match(String(e.uid), /^[0-9a-f-]{36}$/);
    assert.match(String(e.resourceVersion), /^\d+$/);
    assert.ok(!Number.isNaN(Date.parse(String(e.time))));
  }
});

test('--for waits for conditions, --in-order for their order, --timeout names what is unmet', async () => {
  const ns = await env.cluster.createNamespace('for');
  const waiting = env.spawn([
    '-n',
    ns,
    'watch',
    '--for',
    'added:ann',
    '--for',
    'team:ann=red',
    '--for',
    'deleted:ann',
    '--in-order',
    '--timeout',
    '60s',
    '-o',
    'json',
  ]);
  await waitFor('the watch to connect', () => waiting.stderr().includes('watching members') || undefined);
  assert.match(waiting.stderr(), new RegExp(`no members in namespace ${ns} yet`));
  await env.createMember(ns, 'ann', 'blue');
  await env.setTeam(ns, 'ann', 'red');
  await env.deleteMember(ns, 'ann');
  const met = await waiting.done;
  assert.equal(met.code, 0, met.stderr);
  assert.equal(lines(met.stdout).length, 3);

  // Out of order: deleted:bob can only count after added:cid.
  await env.createMember(ns, 'bob');
  const ordered = env.spawn(['-n', ns, 'watch', '--for', 'added:cid', '--for', 'deleted:bob', '--in-order', '--timeout', '4s']);
  await waitFor('the watch to connect', () => ordered.stderr().includes('watching members') || undefined);
  await env.deleteMember(ns, 'bob');
  await env.createMember(ns, 'cid');
  const late = await ordered.done;
  assert.equal(late.code, 5);
  assert.match(late.stderr, /timed out after 4s; still waiting for: deleted:bob/);

  const count = await env.cli(['-n', ns, 'watch', '--count', '5', '--timeout', '2s']);
  assert.equal(count.code, 5);
  assert.match(count.stderr, /still waiting for: 4 more of 5 events/);

  // Without anything to wait for, --timeout is how long to watch.
  const watched = await env.cli(['-n', ns, 'watch', '--timeout', '2s']);
  assert.equal(watched.code, 0, watched.stderr);
  assert.equal(watched.stdout, 'welcome cid\n');
});

test('--timeout 0 checks once: what the existing members meet, else exit 5; no wait for the CRD or the server', async () => {
  const ns = await env.cluster.createNamespace('once');
  await env.createMember(ns, 'ann', 'blue');
  const met = await env.cli(['-n', ns, 'watch', '--for', 'team:ann=blue', '--timeout', '0']);
  assert.equal(met.code, 0, met.stderr);
  assert.equal(met.stdout, 'welcome ann to the team blue\n');

  const unmet = await env.cli(['-n', ns, 'watch', '--for', 'added:ann', '--for', 'added:bob', '--timeout', '0s']);
  assert.equal(unmet.code, 5, unmet.stderr);
  assert.match(unmet.stderr, /^error: not met when checked once \(--timeout 0\); still waiting for: added:bob$/m);
  assert.equal(unmet.stdout, 'welcome ann to the team blue\n');

  // Without goals it lists once, as `kubectl get` does.
  const listed = await env.cli(['-n', ns, 'watch', '--timeout', '0', '-o', 'json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    lines(listed.stdout).map((l) => (JSON.parse(l) as { name: string }).name),
    ['ann'],
  );

  // Nothing to retry: an unreachable server is the failure itself, at once.
  const unreachable = await env.cli(['-n', ns, 'watch', '--for', 'added:ann', '--timeout', '0'], {
    kubeconfig: env.cp.kubeconfigFor({ server: 'https://127.0.0.1:1' }),
  });
  assert.equal(unreachable.code, 3, unreachable.stderr);
  assert.match(
    unreachable.stderr,
    /^error: cannot reach the API server at https:\/\/127\.0\.0\.1:1 \(context admin\): connection refused$/m,
  );
});

test('--ready-file: created when goals are met by the first list, removed when stale, refused in a missing folder', async () => {
  const ns = await env.cluster.createNamespace('ready');
  await env.createMember(ns, 'ann', 'blue');
  // Met while the existing members are listed: the file must exist all the same, or a script waits for ever.
  for (const goal of [
    ['--for', 'added:ann'],
    ['--count', '1'],
  ]) {
    const ready = join(env.cp.dir, `ready-${goal[0]}`);
    const met = await env.cli(['-n', ns, 'watch', '--ready-file', ready, ...goal]);
    assert.equal(met.code, 0, met.stderr);
    assert.ok(existsSync(ready), `${goal.join(' ')}: the ready file exists`);
  }

  // A stale file from an earlier run is gone before the watch is live: here it never is (nothing answers).
  const stale = join(env.cp.dir, 'ready-stale');
  writeFileSync(stale, 'from an earlier run\n');
  const nowhere = env.cp.kubeconfigFor({ server: 'https://127.0.0.1:1' });
  const unreachable = env.spawn(['-n', ns, 'watch', '--ready-file', stale, '--for', 'added:ann'], { kubeconfig: nowhere });
  await waitFor('a reconnect notice', () => unreachable.stderr().includes('reconnecting in') || undefined);
  assert.equal(existsSync(stale), false, 'the stale ready file was removed');
  unreachable.kill('SIGINT');
  assert.equal((await unreachable.done).code, 130);

  // A folder that does not exist: a usage error before any request.
  const typo = await env.cli(['--debug', '-n', ns, 'watch', '--ready-file', join(env.cp.dir, 'no-such-folder', 'ready')]);
  assert.equal(typo.code, 2, typo.stderr);
  assert.match(typo.stderr, /^error: --ready-file .*no-such-folder\/ready: the folder .*no-such-folder does not exist$/m);
  assert.doesNotMatch(typo.stderr, /debug: GET/);
});

test("the README's CI example passes once both events are seen, and ends with the watch's code when it cannot start", async () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('In a CI script')))?.[1];
  if (block === undefined || !block.includes('--ready-file /tmp/ready')) assert.fail('the CI example is in the README');
  const ns = await env.cluster.createNamespace('readme');
  const dir = mkdtempSync(join(env.cp.dir, 'readme-'));
  // `member-watch` on the PATH is the built CLI, pointed at the test cluster (or at no kubeconfig at all).
  writeFileSync(join(dir, 'member-watch'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" --kubeconfig "$KCFG" -n ${ns} "$@"\n`, {
    mode: 0o755,
  });
  const ready = join(dir, 'ready');
  const script = block.replaceAll('/tmp/ready', ready);
  const runScript = (kubeconfig: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const sh = spawn('sh', ['-c', script], {
        cwd: dir,
        env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, KCFG: kubeconfig },
      });
      let stdout = '';
      let stderr = '';
      sh.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      sh.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => sh.kill('SIGKILL'), 60_000);
      sh.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  // A ready file left by an earlier run must not let the script go ahead before the watch is live.
  writeFileSync(ready, 'stale\n');
  const passed = await runScript(env.cp.kubeconfig);
  assert.equal(passed.code, 0, passed.stderr);
  assert.match(passed.stdout, /both events seen/);
  assert.deepEqual(
    lines(readFileSync(join(dir, 'events.ndjson'), 'utf8')).map((l) => (JSON.parse(l) as { type: string }).type),
    ['ADDED', 'DELETED'],
  );

  const failed = await runScript(join(dir, 'no-such-kubeconfig'));
  assert.equal(failed.code, 2, failed.stderr);
  assert.doesNotMatch(failed.stdout, /both events seen/);
  assert.doesNotMatch(failed.stderr, /member\.helloworld\.apimeister\.com\/patrick/, 'nothing was applied');
});

test('--for that could never match this watch is refused before any request', async () => {
  const cases: Array<[string[], RegExp, RegExp]> = [
    [['-A', '--for', 'added:ann'], /names no namespace: with -A members are named NAMESPACE\/NAME/, /hint: write --for added:default\/ann/],
    [['-n', 'crew', '--for', 'deleted:crew/ann'], /names the namespace: without -A/, /hint: write --for deleted:ann/],
    [
      ['-n', 'crew', '--for', 'team:other/ann=blue'],
      /about namespace other, but the watch is of namespace crew/,
      /-n other --for team:ann=blue/,
    ],
  ];
  for (const [args, error, hint] of cases) {
    const r = await env.cli(['--debug', 'watch', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, error);
    assert.match(r.stderr, hint);
    assert.doesNotMatch(r.stderr, /debug: GET/);
  }
});

test('SIGINT and SIGTERM end a watch whose reader stopped reading, with the promised exit codes', async () => {
  const ns = await env.cluster.createNamespace('blocked');
  // Greetings of 1000 members as JSON (about 300 KB) overflow the pipe and Node's own buffer.
  const team = 't'.repeat(60);
  const items = Array.from({ length: 1000 }, (_, i) => ({
    apiVersion: 'helloworld.apimeister.com/v1',
    kind: 'Member',
    metadata: { name: `member-${i}` },
    spec: { memberOf: team },
  }));
  const file = join(env.cp.dir, 'blocked.json');
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  const applied = await env.cli(['-n', ns, 'apply-member', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
  const cli = join(import.meta.dirname, '..', '..', 'bin', 'member-watch.js');
  const stuck = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
    const child = spawn(
      process.execPath,
      [cli, '--kubeconfig', env.cp.kubeconfig, '-n', ns, 'watch', '-o', 'json', '--for', 'added:never'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // Nobody reads stdout: once our side's buffer is full, the pipe fills and the watcher's writes stall.
    child.stdout.pause();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { signal, child, exited };
  });
  try {
    for (const { child } of stuck) {
      await waitFor('stdout to back up', () => child.stdout.readableLength >= child.stdout.readableHighWaterMark || undefined);
    }
    // The watcher has more to write than the pipe holds: give it time to fill the pipe and stall.
    await sleep(1_000);
    for (const { signal, child } of stuck) child.kill(signal);
    const codes = await Promise.all(stuck.map(({ exited }) => Promise.race([exited, sleep(15_000).then(() => 'still running')])));
    assert.deepEqual(codes, [130, 143]);
  } finally {
    for (const { child } of stuck) {
      child.kill('SIGKILL');
      child.stdout.destroy();
    }
  }
});

test('-A names members NAMESPACE/NAME; selectors filter', async () => {
  const ns1 = await env.cluster.createNamespace('all-a');
  const ns2 = await env.cluster.createNamespace('all-b');
  const all = await startWatch(['-A', '--watch-only']);
  const selected = await startWatch(['-n', ns1, '--watch-only', '--field-selector', 'metadata.name=pat']);
  await env.createMember(ns1, 'pat', 'blue');
  await env.createMember(ns2, 'pat', 'red');
  await env.createMember(ns1, 'quinn', 'red');
  await all.waitForLine((l) => l === `welcome ${ns1}/quinn to the team red`);
  await env.cli(['-n', ns1, 'apply-member', 'lead', '-l', 'role=lead']);
  const labelled = await env.cli(['-n', ns1, 'watch', '-l', 'role=lead', '--count', '1']);
  assert.equal(labelled.stdout, 'welcome lead\n');
  await env.deleteMember(ns1, 'pat');
  await selected.waitForLine((l) => l === 'sad to see you go pat');
  for (const w of [all, selected]) w.kill('SIGINT');
  assert.deepEqual(lines((await all.done).stdout).slice(0, 3), [
    `welcome ${ns1}/pat to the team blue`,
    `welcome ${ns2}/pat to the team red`,
    `welcome ${ns1}/quinn to the team red`,
  ]);
  assert.deepEqual(lines((await selected.done).stdout), ['welcome pat to the team blue', 'sad to see you go pat']);
  const bad = await env.cli(['-n', ns1, 'watch', '-l', '===']);
  assert.equal(bad.code, 2, bad.stderr);
});

test('signals: exit 0 with nothing pending, 130/143 with conditions pending', async () => {
  const ns = await env.cluster.createNamespace('signals');
  const pending = await startWatch(['-n', ns, '--for', 'added:never']);
  pending.kill('SIGINT');
  assert.equal((await pending.done).code, 130);
  const term = await startWatch(['-n', ns, '--for', 'added:never']);
  term.kill('SIGTERM');
  assert.equal((await term.done).code, 143);
});

/**
 * Runs `CMD | head -1` in a shell and returns what the shell printed after it, or undefined when the pipeline has
 * not ended within `limitMs`. head starts late, once CMD has written all it has to say, and leaves after one line:
 * the closed pipe is all there is to notice, with nothing more to write.
 */
async function headOne(args: string[], limitMs: number): Promise<{ out: string; err: string } | undefined> {
  const cli = join(import.meta.dirname, '..', '..', 'bin', 'member-watch.js');
  const quoted = args.map((a) => `'${a}'`).join(' ');
  const shell = spawn(
    'sh',
    ['-c', `"${process.execPath}" "${cli}" --kubeconfig "${env.cp.kubeconfig}" ${quoted} | { sleep 3; head -1; }; echo "status=$?"`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that a pipeline that never ends is killed whole.
      detached: true,
    },
  );
  let out = '';
  let err = '';
  shell.stdout.on('data', (d: Buffer) => (out += d.toString()));
  shell.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<boolean>((resolve) => shell.on('exit', () => resolve(true)));
  const ended = await Promise.race([exited, sleep(limitMs).then(() => false)]);
  if (!ended) process.kill(-(shell.pid ?? 0), 'SIGKILL');
  return ended ? { out, err } : undefined;
}

test('a reader that closes the pipe ends a quiet watch or operator at once, with no further event: exit 0, nothing said', async () => {
  const ns = await env.cluster.createNamespace('pipe');
  for (const n of ['a', 'b', 'c']) await env.createMember(ns, n);
  // Nothing happens in the cluster after the greetings: only the closed pipe can end these.
  for (const args of [
    ['-n', ns, 'watch'],
    ['-n', ns, 'watch', '-o', 'json', '--for', 'added:never'],
    ['operator', '--watch-namespace', ns, '--no-finalizer', '--health-probe-bind-address', '0', '--metrics-bind-address', '0'],
  ]) {
    const started = Date.now();
    const r = await headOne(args, 15_000);
    assert.ok(r !== undefined, `${args.join(' ')} | head -1 still ran 15 s after head had its line`);
    assert.equal(lines(r.out).length, 2, r.out);
    if (args[2] === 'watch') assert.match(lines(r.out)[0] ?? '', /^welcome [abc]$|"name":"[abc]"/);
    assert.equal(lines(r.out)[1], 'status=0');
    assert.doesNotMatch(r.err, /error|EPIPE|warning/i);
    assert.ok(Date.now() - started < 15_000);
  }
});

test('a reader that closes its socket (a parent process, not a shell pipe) ends a quiet watch', async () => {
  const ns = await env.cluster.createNamespace('socket');
  await env.createMember(ns, 'a');
  // Node hands a child a socket, not a pipe, as its stdout.
  const watch = env.spawn(['-n', ns, 'watch']);
  await watch.waitForLine((l) => l === 'welcome a');
  // A reader that stays for a while, reading nothing new, is no reader that left.
  await sleep(1_500);
  assert.equal(watch.child.exitCode, null, 'the watch runs while its reader is there');
  watch.child.stdout?.destroy();
  const r = await Promise.race([watch.done, sleep(15_000).then(() => undefined)]);
  assert.ok(r !== undefined, 'the watch still ran 15 s after its reader closed the socket');
  assert.equal(r.code, 0, r.stderr);
});

test('with --for, a missing CRD is waited for; a hostile team is escaped', async () => {
  const ns = await env.cluster.createNamespace('later');
  assert.equal((await env.cli(['uninstall-crd', '--yes'])).code, 0);
  const watch = env.spawn(['-n', ns, 'watch', '--for', 'added:late', '--timeout', '60s']);
  await waitFor('the notice', () => watch.stderr().includes('waiting for the Member CRD') || undefined);
  // --timeout alone also waits for the CRD, and its end says what held the watch up.
  const notStarted = await env.cli(['-n', ns, 'watch', '--timeout', '3s']);
  assert.equal(notStarted.code, 5, notStarted.stderr);
  assert.match(notStarted.stderr, /timed out after 3s; still waiting for: the Member CRD to be installed/);
  // Checked once, there is nothing to wait for: the CRD is missing now.
  const once = await env.cli(['-n', ns, 'watch', '--for', 'added:late', '--timeout', '0']);
  assert.equal(once.code, 4, once.stderr);
  assert.match(once.stderr, /member-watch install-crd/);
  // Polled again and again meanwhile; said once (stderr is not a terminal).
  assert.equal(watch.stderr().split('waiting for the Member CRD').length - 1, 1, watch.stderr());
  assert.equal((await env.cli(['install-crd'])).code, 0);
  await env.createMember(ns, 'late', 'blue');
  const r = await watch.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'welcome late to the team blue\n');
});

test('a namespace that does not exist is said, and waited for; --timeout names it in its hint', async () => {
  const r = await env.cli(['-n', 'nosuchns', 'watch', '--for', 'added:patrick', '--timeout', '3s']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /^namespace nosuchns does not exist: waiting for it and its members$/m);
  assert.match(r.stderr, /^error: timed out after 3s; still waiting for: added:patrick$/m);
  assert.match(r.stderr, /^hint: namespace nosuchns does not exist \(kubectl create namespace nosuchns\)$/m);
  // An empty namespace that exists is just empty.
  const ns = await env.cluster.createNamespace('empty');
  const empty = await env.cli(['-n', ns, 'watch', '--timeout', '2s']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.doesNotMatch(empty.stderr, /does not exist/);
});
