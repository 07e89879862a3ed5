import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { test } from 'node:test';
import { CLI_PATH, type CliResult, type RunningCli } from '../harness/cli.js';
import { killOnExit } from '../harness/control-plane.js';
import { GROUP, lines, useControlPlane } from './support.js';
import { bindNobody, createHeld, listedCount, membersFile, membersIn, REF, releaseHeld, tallyFrom } from './write-support.js';

// Writes cut short (docs/reliability.md, "Writes"): RBAC that forbids part of the work, the API server stopped or
// frozen mid-run, a closed or full stdout, finalizers that outlast --wait. In every case the lines printed, the
// exit code and what the cluster holds afterwards must agree.

const env = useControlPlane();
const STACK = /\n\s+at /;
const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

/** A file of new members PREFIX-000, PREFIX-001... */
const fileOf = (prefix: string, n: number): string =>
  membersFile(
    env,
    names(prefix, n).map((name) => ({ name })),
  );

async function populate(namespace: string, members: string[]): Promise<void> {
  const r = await env.cli([
    '-n',
    namespace,
    'apply-member',
    '-f',
    membersFile(
      env,
      members.map((name) => ({ name })),
    ),
  ]);
  assert.equal(r.code, 0, r.stderr);
}

/** Members a stdout of delete (or apply) lines reports. */
function reported(stdout: string, word: string): string[] {
  return lines(stdout).flatMap((l) => (l.startsWith(REF) && l.endsWith(` ${word}`) ? [l.slice(REF.length, -word.length - 1)] : []));
}

/** Freezes the API server once the command printed its first line, until the command ends. */
async function frozenAfterFirstLine(run: RunningCli): Promise<{ r: CliResult; elapsed: number }> {
  const started = performance.now();
  await run.waitForLine(() => true);
  env.cp.freezeApiserver();
  try {
    const r = await run.done;
    return { r, elapsed: performance.now() - started };
  } finally {
    env.cp.thawApiserver();
  }
}

/**
 * A stopped write agrees with the cluster: every line's member changed, the summary's counts add up to the total,
 * and members changed without a line are at most those it says were cut off in flight.
 */
async function agrees(r: CliResult, namespace: string, total: number, verb: 'applied' | 'deleted'): Promise<string> {
  const word = verb === 'applied' ? 'created' : 'deleted';
  const done = reported(r.stdout, word);
  assert.equal(tallyFrom(r.stderr, verb)?.done, done.length, r.stderr);
  const notDone = listedCount(r.stderr, `not ${verb}`);
  const unknown = listedCount(r.stderr, `unknown (cut off in flight, may have been ${verb})`);
  assert.equal(done.length + notDone + unknown, total, r.stderr);
  const held = await membersIn(env, namespace);
  for (const name of done)
    assert.equal(held.has(name), verb === 'applied', `${name} reported ${word} but ${verb === 'applied' ? 'absent' : 'still there'}`);
  const changed = verb === 'applied' ? held.size : total - held.size;
  assert.ok(changed >= done.length && changed <= done.length + unknown, `${changed} ${verb}, ${done.length} reported, ${unknown} unknown`);
  return `${verb} and reported ${done.length} of ${total}, not ${verb} ${notDone}, unknown ${unknown}, ${verb} in fact ${changed}`;
}

test('a delete forbidden for one member: each delete reported, none started after the failure, counts said', async (t) => {
  const ns = await env.cluster.createNamespace('rbac');
  const all = names('m', 200);
  await populate(ns, all);
  // RBAC with resourceNames: nobody may delete every member but m-150.
  await bindNobody(env, ns, [
    { apiGroups: [GROUP], resources: ['members'], verbs: ['list', 'get'] },
    { apiGroups: [GROUP], resources: ['members'], verbs: ['delete'], resourceNames: all.filter((n) => n !== 'm-150') },
  ]);
  const r = await env.cli(['--debug', '-n', ns, 'delete-member', ...all], { kubeconfig: env.cp.kubeconfigFor({ context: 'nobody' }) });
  assert.equal(r.code, 3, r.stderr);
  const deleted = reported(r.stdout, 'deleted');
  const left = [...(await membersIn(env, ns)).keys()];
  // What the lines say is what happened: every member is either reported deleted or still there.
  assert.deepEqual([...deleted, ...left].sort(), all);
  // Deletes start in the order given, 16 at a time: all before m-150 had started. None starts once m-150's failure
  // has arrived: the debug log lists the answers as they came, and each answer before the failure's lets one more
  // start, so no more than those and the first 16 were ever sent.
  for (const name of all.slice(0, 150)) assert.ok(deleted.includes(name), `${name} was started before the failure`);
  const answers = lines(r.stderr).flatMap((l) => /^debug: DELETE \S+\/members\/(m-\d+) /.exec(l)?.[1] ?? []);
  const beforeFailure = answers.indexOf('m-150');
  assert.ok(beforeFailure >= 0, r.stderr);
  assert.ok(answers.length <= beforeFailure + 16, `${answers.length} deletes sent, ${beforeFailure} answered before the failure`);
  assert.equal(answers.length, deleted.length + 1, 'each delete sent is reported');
  assert.ok(left.includes('m-150'));
  t.diagnostic(`deleted and reported ${deleted.length} of 200, left ${left.length}`);
  assert.match(r.stderr, /^error: member m-150: forbidden: user nobody may not delete members.helloworld.apimeister.com in namespace /m);
  assert.match(r.stderr, new RegExp(`^error: stopped after a failure; deleted ${deleted.length} of 200 members; not deleted: m-150`, 'm'));
  // Nothing else on stderr, no runtime warning: the debug log, and the stack that --debug asks for.
  for (const line of lines(r.stderr)) assert.match(line, /^(error|hint|debug): |^CliError: |^ {4}at /);
});

test('the API server stopped in the middle of delete --all: what was reported deleted is gone, the rest is counted', async (t) => {
  const ns = await env.cluster.createNamespace('kill');
  await populate(ns, names('k', 1500));
  const run = env.spawn(['-n', ns, 'delete-member', '--all']);
  // Stopped once some deletes are reported, while most are still to do.
  for (let i = 0; i < 50; i++) await run.waitForLine((l) => l.endsWith(' deleted'));
  await env.cp.stopApiserver();
  const r = await run.done;
  await env.cp.startApiserver();
  assert.equal(r.code, 3, r.stderr);
  // The cause depends on how far the shutdown got: refused or reset connections, or a 503 while it drains.
  assert.match(r.stderr, /^error: .*; deleted \d+ of 1500 members; not deleted: /m);
  assert.ok((tallyFrom(r.stderr, 'deleted')?.done ?? 1500) < 1500, 'the stop came before the end');
  t.diagnostic(await agrees(r, ns, 1500, 'deleted'));
});

test('a frozen API server: apply-member -f --timeout ends at the limit and says what was and was not applied', async (t) => {
  const ns = await env.cluster.createNamespace('frozen');
  const { r, elapsed } = await frozenAfterFirstLine(env.spawn(['-n', ns, 'apply-member', '-f', fileOf('f', 400), '--timeout', '4s']));
  assert.equal(r.code, 5, r.stderr);
  assert.ok(elapsed < 4000 + 5000, `ended ${Math.round(elapsed)} ms after the start: not fast`);
  // Whether any apply is cut off in flight depends on the connections open at the freeze: a request waiting for a
  // TLS handshake the frozen server never answers was not sent, and is counted as not applied.
  assert.match(r.stderr, /^error: timed out after 4s; applied \d+ of 400 members; not applied: /m);
  t.diagnostic(`ended ${Math.round(elapsed)} ms after the start; ${await agrees(r, ns, 400, 'applied')}`);
});

test('a frozen API server: delete-member --all --timeout ends at the limit, each delete reported', async (t) => {
  const ns = await env.cluster.createNamespace('frozendel');
  await populate(ns, names('g', 400));
  const { r, elapsed } = await frozenAfterFirstLine(env.spawn(['-n', ns, 'delete-member', '--all', '--timeout', '4s']));
  assert.equal(r.code, 5, r.stderr);
  assert.ok(elapsed < 4000 + 5000, `ended ${Math.round(elapsed)} ms after the start: not fast`);
  assert.match(r.stderr, /^error: timed out after 4s; deleted \d+ of 400 members; not deleted: /m);
  t.diagnostic(`ended ${Math.round(elapsed)} ms after the start; ${await agrees(r, ns, 400, 'deleted')}`);
});

test('Ctrl-C in the middle of apply-member -f: no new member is applied, the counts are said, exit 130', async (t) => {
  const ns = await env.cluster.createNamespace('sigint');
  const run = env.spawn(['-n', ns, 'apply-member', '-f', fileOf('i', 1000)]);
  await run.waitForLine((l) => l.endsWith(' created'));
  run.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /^error: interrupted by SIGINT; applied \d+ of 1000 members; not applied: /m);
  t.diagnostic(await agrees(r, ns, 1000, 'applied'));
});

test('a closed stdout (apply-member -f | head -1) stops the work and exits non-zero, saying what was done', async (t) => {
  const ns = await env.cluster.createNamespace('epipe');
  const run = env.spawn(['-n', ns, 'apply-member', '-f', fileOf('p', 2000)]);
  await run.waitForLine(() => true);
  // As `head -1` does: read one line, then close the pipe.
  run.child.stdout?.destroy();
  const r = await run.done;
  assert.equal(r.code, 6, r.stderr);
  assert.match(
    r.stderr,
    /^error: cannot write to stdout: the reader closed the pipe \(EPIPE\); applied (\d+) of 2000 members; not applied: /m,
  );
  const done = tallyFrom(r.stderr, 'applied')?.done ?? -1;
  assert.ok(done < 2000);
  assert.equal(done + listedCount(r.stderr, 'not applied'), 2000, 'no request is cut off by a closed stdout');
  assert.equal((await membersIn(env, ns)).size, done);
  t.diagnostic(`applied ${done} of 2000 before stopping`);
  assert.doesNotMatch(r.stderr, STACK);
});

/** Runs the CLI with stdout on /dev/full. */
function toFullDisk(args: string[]): Promise<CliResult> {
  const full = openSync('/dev/full', 'w');
  const child = spawn(process.execPath, [CLI_PATH, '--kubeconfig', env.cp.kubeconfig, ...args], { stdio: ['ignore', full, 'pipe'] });
  closeSync(full);
  killOnExit(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr })));
}

test('a full disk on stdout (> /dev/full) is one error line and exit 6 for every command', async () => {
  const ns = await env.cluster.createNamespace('full');
  await env.createMember(ns, 'old');
  const commands = [
    ['--help'],
    ['--version'],
    ['help', 'watch'],
    ['install-crd', '--print'],
    ['install-crd'],
    ['-n', ns, 'apply-member', 'pat'],
    ['-n', ns, 'delete-member', 'pat'],
    ['-n', ns, 'watch', '--count', '1'],
    // its first log line fails: it stops as on SIGTERM
    ['operator', '--watch-namespace', ns, '--health-probe-bind-address', '0', '--metrics-bind-address', '0'],
  ];
  for (const args of commands) {
    const r = await toFullDisk(args);
    assert.equal(r.code, 6, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('error: ')).length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /error: cannot write to stdout: no space left on device \(ENOSPC\)/, args.join(' '));
    assert.doesNotMatch(r.stderr, STACK, args.join(' '));
  }
  // A write command stops after the failure and says what it did.
  const r = await toFullDisk(['-n', ns, 'apply-member', '-f', fileOf('q', 300)]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /^error: cannot write to stdout: no space left on device \(ENOSPC\); applied \d+ of 300 members/m);
});

test('--wait waits to its deadline and names what still holds a member; --timeout 0s checks once', async () => {
  const ns = await env.cluster.createNamespace('wait');
  await createHeld(env, ns);
  // Without --wait, a member held by a finalizer is not said to be deleted: what holds it is.
  const held = `${REF}held is being deleted (held by finalizer example.com/hold): it stays until that is removed\n`;
  const asked = await env.cli(['-n', ns, 'delete-member', 'held']);
  assert.equal(asked.code, 0, asked.stderr);
  assert.equal(asked.stdout, held);
  const started = performance.now();
  const r = await env.cli(['-n', ns, 'delete-member', 'held', '--wait', '--timeout', '1300ms']);
  const elapsed = performance.now() - started;
  assert.equal(r.code, 5, r.stderr);
  assert.equal(r.stdout, held);
  assert.match(
    r.stderr,
    /^error: timed out after 1300ms waiting for member held to be deleted; still pending: held \(held by finalizer example.com\/hold\)$/m,
  );
  // The whole command (start-up, the delete, the wait) within the limit, never giving up before it.
  assert.ok(elapsed >= 1300, `gave up after ${Math.round(elapsed)} ms`);

  const once = await env.cli(['-n', ns, 'delete-member', 'held', '--wait', '--timeout', '0s']);
  assert.equal(once.code, 5, once.stderr);
  assert.match(once.stderr, /timed out after 0s waiting for member held to be deleted; still pending: held \(held by finalizer/);
  await releaseHeld(env, ns);
  await env.createMember(ns, 'free');
  const gone = await env.cli(['-n', ns, 'delete-member', 'free', '--wait', '--timeout', '0s']);
  assert.equal(gone.code, 0, gone.stderr);
});
