import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CliResult } from '../harness/cli.js';
import { type FakeAnswer, type FakeApiServer, fakeKubeconfig, startFakeApiServer } from '../harness/fake-apiserver.js';
import { GROUP, lines, useControlPlane, waitFor } from './support.js';

// Answers a real API server never gives, from the fake one in test/harness/fake-apiserver.ts: every command
// stops at once with one plain line and exit 3, at the start and after a reconnect, instead of retrying for
// ever or failing with a parser's message. What can heal (a 503 page from a load balancer) is still retried.

const env = useControlPlane();
let fake: FakeApiServer;
let kubeconfig: string;
const STACK = /\n\s+at /;
const MEMBERS = `/apis/${GROUP}/v1/namespaces/default/members`;
const CRD = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/members.${GROUP}`;
const HTML = '<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body>Please sign in to continue</body></html>';

let started: Promise<void> | undefined;
/** Started by the first test: the control plane's `before` hook is not done before this file's would run. */
function startFake(): Promise<void> {
  started ??= (async () => {
    fake = await startFakeApiServer({ dir: env.cp.dir, upstreamPort: Number(new URL(env.cp.server).port) });
    kubeconfig = fakeKubeconfig(fake, join(env.cp.dir, 'kubeconfig-fake'));
  })();
  return started;
}
after(() => fake?.close());

/** The watch's end, or a failure: a watch that retries for ever must fail the test, not hang it. */
async function ended(watch: ReturnType<typeof env.spawn>, ms = 30_000): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      watch.kill('SIGKILL');
      reject(new Error(`the watch did not stop within ${ms} ms:\n${watch.stderr()}`));
    }, ms);
  });
  try {
    return await Promise.race([watch.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Exit code, exactly one `error:` line, which is `message` (the server's address filled in), no stack trace. */
function assertOneError(r: CliResult, code: number, message: string, what: string): void {
  const context = `${what}\nexit ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assert.equal(r.code, code, context);
  const errors = lines(r.stderr).filter((l) => l.startsWith('error: '));
  assert.deepEqual(errors, [`error: ${message.replace('SERVER', fake.url)}`], context);
  assert.doesNotMatch(r.stderr, STACK, context);
}

interface Garbage {
  what: string;
  answer: FakeAnswer;
  /** What the error says came back: for a single object, and where it differs, for a list (watch). */
  said: string;
  saidForList?: string;
  /** The whole message of watch, where the watcher itself finds the list is none. */
  watchSays?: string;
}

const garbage: Garbage[] = [
  {
    what: 'an HTML page',
    answer: { text: HTML },
    said: 'an HTML page (HTTP 200): "<!DOCTYPE html> <html><head><title>Sign in</title></head> <body>Please sign in t…"',
  },
  {
    what: 'an empty JSON object',
    answer: { json: {} },
    said: 'JSON that is not a Kubernetes object (HTTP 200): "{}"',
    watchSays: 'SERVER answered the list of members with something that is not a Kubernetes list: {}',
  },
  {
    what: 'JSON of another kind of server',
    answer: { json: { foo: 1 } },
    said: 'JSON that is not a Kubernetes object (HTTP 200): "{\\"foo\\":1}"',
    watchSays: 'SERVER answered the list of members with something that is not a Kubernetes list: {"foo":1}',
  },
  {
    what: 'truncated JSON',
    answer: { text: '{"apiVersion":"v1","kind":"Sta', contentType: 'application/json' },
    said: 'malformed JSON (HTTP 200): "{\\"apiVersion\\":\\"v1\\",\\"kind\\":\\"Sta"',
    saidForList: 'a list that breaks off in the middle (malformed JSON)',
  },
  {
    what: 'a redirect',
    answer: { redirect: 'https://login.example/sso', status: 302 },
    said: 'a redirect to "https://login.example/sso" (HTTP 302)',
  },
  {
    what: 'a 404 page that is not a Kubernetes Status',
    answer: { text: '<html><body><h1>Not Found</h1></body></html>', status: 404 },
    said: 'an HTML page (HTTP 404): "<html><body><h1>Not Found</h1></body></html>"',
  },
];
const answered = (what: string): string => `the API server at SERVER (context fake) answered with ${what}`;

test('apply-member and install-crd stop at once on answers that are not from a Kubernetes API server', async () => {
  await startFake();
  for (const { what, answer, said } of garbage) {
    fake.setMode('serve');
    fake.on('GET', MEMBERS, answer);
    fake.on('GET', CRD, answer);
    const applied = await env.cli(['apply-member', 'patrick', '--team', 'blue'], { kubeconfig });
    assertOneError(applied, 3, answered(said), `apply-member: ${what}`);
    assert.match(applied.stderr, /^hint: a Kubernetes API server does not answer like this/m);
    const installed = await env.cli(['install-crd'], { kubeconfig });
    assertOneError(installed, 3, answered(said), `install-crd: ${what}`);
  }
});

test('an apply whose answer is not a Kubernetes object is an error, not "unchanged"', async () => {
  await startFake();
  fake.setMode('serve');
  const notFound = { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', details: { name: 'patrick' }, code: 404 };
  fake.on('GET', CRD, {
    json: { kind: 'CustomResourceDefinition', apiVersion: 'apiextensions.k8s.io/v1', metadata: { name: `members.${GROUP}` } },
  });
  fake.on('GET', MEMBERS, { status: 404, json: notFound });
  for (const { what, answer, said } of garbage.slice(0, 3)) {
    // The write that follows a read of a member not there: a create (or an apply, whichever apply-member sends).
    fake.on('POST', MEMBERS, answer);
    fake.on('PATCH', MEMBERS, answer);
    const r = await env.cli(['apply-member', 'patrick'], { kubeconfig });
    // A write whose answer is garbage may have happened all the same (apply-member says so).
    assertOneError(r, 3, `${answered(said)}; member patrick may or may not have been applied`, `the write answered with ${what}`);
    assert.equal(r.stdout, '');
  }
});

test('watch stops at once on garbage at the start, and retries what can heal', async () => {
  await startFake();
  fake.setMode('serve');
  for (const { what, answer, said, saidForList, watchSays } of garbage) {
    fake.on('GET', MEMBERS, answer);
    const r = await env.cli(['watch'], { kubeconfig, timeoutMs: 20_000 });
    assertOneError(r, 3, watchSays ?? answered(saidForList ?? said), `watch: ${what}`);
  }
  // A load balancer's error page can pass: retried (here until --max-reconnects), its title quoted.
  fake.on('GET', MEMBERS, { status: 503, text: '<html><head><title>503 Service Unavailable</title></head></html>' });
  const r = await env.cli(['watch', '--max-reconnects', '1'], { kubeconfig, timeoutMs: 20_000 });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^error: gave up after 1 reconnect: .*<title>503 Service Unavailable<\/title>/m);
});

/** A watch that starts against the real server through the fake, in forward mode, greets one member and is live. */
async function liveWatch(args: string[], caFiles: string[]): Promise<ReturnType<typeof env.spawn>> {
  fake.setMode('forward');
  const ns = await env.cluster.createNamespace('switch');
  await env.createMember(ns, 'before', 'blue');
  const config = fakeKubeconfig(fake, join(env.cp.dir, `kubeconfig-switch-${ns}`), { caFiles, token: env.cp.adminToken });
  const ready = join(env.cp.dir, `ready-${ns}`);
  const watch = env.spawn(['-n', ns, 'watch', '--ready-file', ready, ...args], { kubeconfig: config });
  await watch.waitForLine((l) => l === 'welcome before to the team blue');
  // Greeted during the list: only the ready file says the watch request itself is open, to be cut.
  await waitFor('the watch to be live', () => existsSync(ready) || undefined);
  return watch;
}

test('after a reconnect, garbage and TLS failures are final too', async () => {
  await startFake();
  const both = [fake.caFile, env.cp.caFile];
  // Answers checked before a watch stream is read (the lines of a stream are the watcher's to check).
  for (const { what, answer, said } of garbage.filter((g) =>
    ['an HTML page', 'a redirect', 'a 404 page that is not a Kubernetes Status'].includes(g.what),
  )) {
    const watch = await liveWatch([], both);
    fake.on('GET', '/apis/', answer);
    fake.setMode('serve');
    fake.cutAll();
    const r = await ended(watch);
    assertOneError(r, 3, answered(said), `after a reconnect: ${what}`);
    // How the cut is worded is the watch's notice; it is never Node's bare "aborted".
    assert.doesNotMatch(r.stderr, /aborted/, 'the cut is not called "aborted"');
  }
  // The fake's certificate is not signed by the CA this kubeconfig trusts: final, not retried.
  const watch = await liveWatch([], [env.cp.caFile]);
  fake.setMode('serve');
  fake.cutAll();
  const r = await ended(watch);
  assertOneError(
    r,
    3,
    "TLS verification failed for SERVER (context fake): the server's certificate is not signed by the certificate authority in the kubeconfig",
    'TLS failure after a reconnect',
  );
});

test('a hung TLS handshake, no answer, a silent answer and a crash mid-answer are named, retried, and bounded', async () => {
  await startFake();
  const both = [fake.caFile, env.cp.caFile];
  // --watch-timeout 1s: the silence limit is 3s, and so is the limit for connecting, handshake included.
  const host = fake.url.replace('https://', '');
  const cases: Array<[string, () => void, string]> = [
    ['hung TLS handshake', () => fake.setMode('hang-tls'), `TLS handshake with ${host} did not finish within 3s`],
    [
      'no answer at all',
      () => {
        fake.on('GET', '/apis/', 'never');
        fake.setMode('serve');
      },
      `no answer from ${host} within 3s`,
    ],
    [
      'silence mid-answer',
      () => {
        fake.on('GET', '/apis/', { stream: [], then: 'stall' });
        fake.setMode('serve');
      },
      `no data from ${host} for 3s`,
    ],
    [
      'a crash mid-answer',
      () => {
        fake.on('GET', '/apis/', { stream: ['{"type":"ADDED","object":{"kind":"Mem'], then: 'crash' });
        fake.setMode('serve');
      },
      'the connection was closed by the server',
    ],
  ];
  for (const [what, fault, reason] of cases) {
    const watch = await liveWatch(['--watch-timeout', '1s', '--max-reconnects', '1'], both);
    fault();
    fake.cutAll();
    const cut = Date.now();
    const r = await ended(watch);
    const elapsed = Date.now() - cut;
    assertOneError(r, 3, `gave up after 1 reconnect: ${reason}`, what);
    assert.doesNotMatch(r.stderr, /aborted/, what);
    // One attempt of at most 3s after a backoff of at most 0.75s, and slack for a loaded machine.
    assert.ok(elapsed < 9_000, `${what}: took ${elapsed} ms`);
  }
});
