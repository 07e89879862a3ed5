import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CliResult } from '../harness/cli.js';
import { startConnectProxy } from '../harness/connect-proxy.js';
import { selfSigned } from '../harness/fake-apiserver.js';
import { GROUP, lines, useControlPlane } from './support.js';

// kubeconfigs as people have them, against the real control plane: token files, exec plugins, client
// certificates, CAs, proxies, and files that are not kubeconfigs. Local mistakes are exit 2 before any request,
// problems with the cluster or the credentials exit 3; one line each, the same for every command.

const env = useControlPlane();
const STACK = /\n\s+at /;
// Every command reaches the cluster its own way: these must all agree on configuration errors.
const COMMANDS = [['apply-member', 'never'], ['watch'], ['install-crd']];

interface KubeconfigDoc {
  'current-context'?: string;
  clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
  users: Array<{ name: string; user: Record<string, unknown> }>;
  contexts: Array<{ name: string; context: Record<string, unknown> }>;
}

let written = 0;
function scratchDir(): string {
  const dir = join(env.cp.dir, `kubeconfig-test-${++written}`);
  mkdirSync(dir);
  return dir;
}

/** A copy of the admin kubeconfig, changed, in a folder of its own (so relative paths are tested too). */
function kubeconfigWith(change: (kc: KubeconfigDoc, dir: string) => void): string {
  const dir = scratchDir();
  const kc = JSON.parse(readFileSync(env.cp.kubeconfig, 'utf8')) as KubeconfigDoc;
  change(kc, dir);
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, JSON.stringify(kc, null, 2), { mode: 0o600 });
  return file;
}

function kubeconfigText(text: string): string {
  const file = join(scratchDir(), 'kubeconfig');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

const admin = (kc: KubeconfigDoc): Record<string, unknown> => kc.users.find((u) => u.name === 'admin')?.user ?? {};
const cluster = (kc: KubeconfigDoc): Record<string, unknown> => kc.clusters[0]?.cluster ?? {};

/** Exit code, exactly the one `error:` line given, no stack trace, no token. */
function assertError(r: CliResult, code: number, message: string, what: string): void {
  const context = `${what}\nexit ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assert.equal(r.code, code, context);
  assert.deepEqual(
    lines(r.stderr).filter((l) => l.startsWith('error: ')),
    [`error: ${message}`],
    context,
  );
  assert.doesNotMatch(r.stderr, STACK, context);
  assert.ok(!(r.stdout + r.stderr).includes(env.cp.adminToken), `${what}: the token was printed`);
}

async function assertEveryCommand(kubeconfig: string, code: number, message: string, what: string): Promise<CliResult[]> {
  const results: CliResult[] = [];
  for (const command of COMMANDS) {
    // With --debug, requests are logged: a local mistake must stop before any (and has no stack trace to show).
    const debug = code === 2 ? ['--debug'] : [];
    const r = await env.cli([...debug, ...command], { kubeconfig, timeoutMs: 20_000 });
    assertError(r, code, message.replace('FILE', kubeconfig), `${what}: ${command.join(' ')}`);
    if (code === 2) assert.doesNotMatch(r.stderr, /^debug: (GET|PATCH)/m, `${what}: ${command.join(' ')} sent a request`);
    results.push(r);
  }
  return results;
}

test('a kubeconfig with fields of the wrong type is malformed, and says which field', async () => {
  const cases: Array<[string, string, string]> = [
    ['clusters: 5', 'clusters: 5\nusers: []\ncontexts: []\n', 'clusters must be a list, not the number 5'],
    ['users as a string', 'clusters: []\nusers: admin\n', 'users must be a list, not a string'],
    ['a context that is a number', 'contexts: [5]\n', 'contexts[0] must be a mapping, not the number 5'],
    ['a list', '- 1\n- 2\n', 'the document must be a mapping, not a list'],
    [
      'a boolean as text',
      'clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: "yes"\n',
      'clusters[0].cluster.insecure-skip-tls-verify must be true or false, not a string',
    ],
    ['a token that is a mapping', 'users:\n- name: u\n  user:\n    token: {a: 1}\n', 'users[0].user.token must be a string, not a mapping'],
    ['a cluster without a name', 'clusters:\n- cluster: {server: "https://127.0.0.1:1"}\n', 'clusters[0] has no name'],
    [
      'an exec plugin without apiVersion',
      'users:\n- name: u\n  user:\n    exec: {command: login}\n',
      'users[0].user.exec.apiVersion must be one of client.authentication.k8s.io/v1, client.authentication.k8s.io/v1beta1, not ""',
    ],
  ];
  for (const [i, [what, text, field]] of cases.entries()) {
    const file = kubeconfigText(text);
    // Reading the kubeconfig is the same code for every command: two of them for the first case are enough.
    for (const command of i === 0 ? [['apply-member', 'x'], ['watch']] : [['apply-member', 'x']]) {
      const r = await env.cli(command, { kubeconfig: file });
      assertError(r, 2, `kubeconfig ${file} is malformed: ${field}`, `${what}: ${command.join(' ')}`);
    }
  }
  const undefinedContext = kubeconfigWith((kc) => (kc['current-context'] = 'gone'));
  const r = await env.cli(['watch'], { kubeconfig: undefinedContext });
  assertError(r, 2, `current-context "gone" is not defined in kubeconfig ${undefinedContext}`, 'current-context not defined');
  assert.match(r.stderr, /^hint: known contexts: admin, nobody$/m);
});

test('tokenFile is read (relative to the kubeconfig); missing or empty, it is exit 2 before any request', async () => {
  const ns = await env.cluster.createNamespace('tokenfile');
  const good = kubeconfigWith((kc, dir) => {
    writeFileSync(join(dir, 'token'), `${env.cp.adminToken}\n`, { mode: 0o600 });
    kc.users = kc.users.map((u) => (u.name === 'admin' ? { name: 'admin', user: { tokenFile: 'token' } } : u));
  });
  const applied = await env.cli(['-n', ns, 'apply-member', 'via-file', '--team', 'blue'], { kubeconfig: good });
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(applied.stdout, `member.${GROUP}/via-file created\n`);
  const watched = await env.cli(['-n', ns, 'watch', '--count', '1'], { kubeconfig: good });
  assert.equal(watched.stdout, 'welcome via-file to the team blue\n', watched.stderr);

  let missingPath = '';
  const missing = kubeconfigWith((kc, dir) => {
    missingPath = join(dir, 'no-such-token');
    admin(kc)['tokenFile'] = 'no-such-token';
    delete admin(kc)['token'];
  });
  await assertEveryCommand(
    missing,
    2,
    `tokenFile of user "admin" in kubeconfig FILE: file ${missingPath} does not exist`,
    'missing tokenFile',
  );

  let emptyPath = '';
  const empty = kubeconfigWith((kc, dir) => {
    emptyPath = join(dir, 'empty-token');
    writeFileSync(emptyPath, '\n');
    admin(kc)['tokenFile'] = emptyPath;
    delete admin(kc)['token'];
  });
  await assertEveryCommand(empty, 2, `tokenFile of user "admin" in kubeconfig FILE: file ${emptyPath} is empty`, 'empty tokenFile');
});

const base64 = (text: string): string => Buffer.from(text).toString('base64');

test('CA and client certificate problems are one plain line naming the kubeconfig field, never an OpenSSL code', async () => {
  const dir = scratchDir();
  // Client certificates: the test API server asks for none, but a good pair must still be usable.
  const one = selfSigned(join(dir, 'one'), 'one');
  const two = selfSigned(join(dir, 'two'), 'two');
  const server = env.cp.server;
  const cases: Array<[string, (kc: KubeconfigDoc) => void, number, string]> = [
    [
      'a missing CA file',
      (kc) => (cluster(kc)['certificate-authority'] = '/nope/ca.crt'),
      2,
      'certificate-authority of cluster "test" in kubeconfig FILE: file /nope/ca.crt does not exist',
    ],
    [
      'CA data that is not a certificate',
      (kc) => {
        delete cluster(kc)['certificate-authority'];
        cluster(kc)['certificate-authority-data'] = base64('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');
      },
      2,
      'certificate-authority-data of cluster "test" in kubeconfig FILE is not a PEM certificate',
    ],
    [
      'a CA and insecure-skip-tls-verify',
      (kc) => (cluster(kc)['insecure-skip-tls-verify'] = true),
      2,
      'cluster "test" in kubeconfig FILE has both a certificate authority and insecure-skip-tls-verify',
    ],
    [
      'a wrong host name',
      (kc) => (cluster(kc)['tls-server-name'] = 'wrong.example'),
      3,
      `TLS verification failed for ${server} (context admin): the server's certificate is not valid for the name wrong.example`,
    ],
    [
      'a garbled client certificate',
      (kc) => Object.assign(admin(kc), { 'client-certificate-data': base64('garbage'), 'client-key': one.key }),
      2,
      'client-certificate of user "admin" in kubeconfig FILE and its client-key: the certificate is not a PEM certificate',
    ],
    [
      'a garbled client key',
      (kc) =>
        Object.assign(admin(kc), { 'client-certificate': one.cert, 'client-key-data': base64('-----BEGIN PRIVATE KEY-----\ngarbage\n') }),
      2,
      'client-certificate of user "admin" in kubeconfig FILE and its client-key: the key is not a PEM private key',
    ],
    [
      'a key that belongs to another certificate',
      (kc) => Object.assign(admin(kc), { 'client-certificate': one.cert, 'client-key': two.key }),
      2,
      'client-certificate of user "admin" in kubeconfig FILE and its client-key: the key does not belong to the certificate',
    ],
    [
      'a certificate without its key',
      (kc) => Object.assign(admin(kc), { 'client-certificate': one.cert }),
      2,
      'user "admin" in kubeconfig FILE has a client certificate but no client key',
    ],
  ];
  for (const [what, change, code, message] of cases) {
    const results = await assertEveryCommand(kubeconfigWith(change), code, message, what);
    for (const r of results) assert.doesNotMatch(r.stderr, /error:[0-9A-F]{8}:|routines/, `${what}: an OpenSSL code`);
  }
  // A good pair is used (the test server asks for no client certificate, so the token still decides).
  const ns = await env.cluster.createNamespace('certs');
  const good = kubeconfigWith((kc) => Object.assign(admin(kc), { 'client-certificate': one.cert, 'client-key': one.key }));
  const applied = await env.cli(['-n', ns, 'apply-member', 'cert'], { kubeconfig: good });
  assert.equal(applied.code, 0, applied.stderr);
});

/** An exec plugin as a shell script: counts its runs, keeps KUBERNETES_EXEC_INFO, says something on stderr. */
function plugin(dir: string, body: string): string {
  const file = join(dir, 'plugin.sh');
  writeFileSync(
    file,
    [
      '#!/bin/sh',
      `dir='${dir}'`,
      'n=$(cat "$dir/count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$dir/count"',
      'printf %s "$KUBERNETES_EXEC_INFO" > "$dir/info"',
      body,
    ].join('\n') + '\n',
  );
  chmodSync(file, 0o755);
  return file;
}

const V1 = 'client.authentication.k8s.io/v1';
const credential = (token: string, expires?: string): string =>
  JSON.stringify({
    apiVersion: V1,
    kind: 'ExecCredential',
    status: { token, ...(expires === undefined ? {} : { expirationTimestamp: expires }) },
  });

function execKubeconfig(dir: string, command: string, extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'kubeconfig');
  const kc = JSON.parse(readFileSync(env.cp.kubeconfig, 'utf8')) as KubeconfigDoc;
  kc.users = [{ name: 'admin', user: { exec: { apiVersion: V1, command, interactiveMode: 'IfAvailable', ...extra } } }];
  kc.contexts = kc.contexts.filter((c) => c.name === 'admin');
  writeFileSync(file, JSON.stringify(kc, null, 2), { mode: 0o600 });
  return file;
}

const runs = (dir: string): number => (existsSync(join(dir, 'count')) ? Number(readFileSync(join(dir, 'count'), 'utf8')) : 0);

test('an exec plugin runs once for many requests, sees KUBERNETES_EXEC_INFO, and its stderr reaches the user', async () => {
  const ns = await env.cluster.createNamespace('exec');
  const dir = scratchDir();
  plugin(
    dir,
    `echo 'open https://login.example/device and enter ABCD-1234' >&2\necho '${credential(env.cp.adminToken, '2099-01-01T00:00:00Z')}'`,
  );
  const kubeconfig = execKubeconfig(dir, './plugin.sh', { provideClusterInfo: true });
  const file = join(dir, 'members.yaml');
  writeFileSync(
    file,
    ['a', 'b', 'c', 'd', 'e'].map((n) => `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: ${n}\n`).join('---\n'),
  );
  const r = await env.cli(['-n', ns, 'apply-member', '-f', file], { kubeconfig });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(r.stdout).length, 5);
  assert.equal(runs(dir), 1, 'every request for five members, sixteen at a time: one run of the plugin');
  assert.match(r.stderr, /^open https:\/\/login\.example\/device and enter ABCD-1234$/m);
  const info = JSON.parse(readFileSync(join(dir, 'info'), 'utf8')) as { spec: { cluster: Record<string, string> } };
  assert.deepEqual(info, {
    apiVersion: V1,
    kind: 'ExecCredential',
    spec: {
      interactive: false,
      cluster: { server: env.cp.server, 'certificate-authority-data': base64(readFileSync(env.cp.caFile, 'utf8')) },
    },
  });

  // Expired at once: run again for each request.
  const expiring = scratchDir();
  plugin(expiring, `echo '${credential(env.cp.adminToken, '2000-01-01T00:00:00Z')}'`);
  const again = await env.cli(['--debug', '-n', ns, 'apply-member', 'f'], { kubeconfig: execKubeconfig(expiring, './plugin.sh') });
  assert.equal(again.code, 0, again.stderr);
  const requests = lines(again.stderr).filter((l) => /^debug: (GET|POST|PATCH) /.test(l)).length;
  assert.ok(requests >= 2, again.stderr);
  assert.equal(runs(expiring), requests);

  // Rejected (401): run again once, as client-go does, and go on with the new credential.
  const rotating = scratchDir();
  plugin(rotating, `if [ "$n" = 1 ]; then echo '${credential('stale')}'; else echo '${credential(env.cp.adminToken)}'; fi`);
  const rotated = await env.cli(['-n', ns, 'apply-member', 'g'], { kubeconfig: execKubeconfig(rotating, './plugin.sh') });
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.equal(runs(rotating), 2);
});

test('a missing exec plugin is exit 2 with its installHint; a failing one exit 3 with its last words', async () => {
  const missingDir = scratchDir();
  const missing = execKubeconfig(missingDir, 'member-watch-no-such-plugin', {
    installHint: 'Install it with:\n  brew install no-such-plugin',
  });
  const results = await assertEveryCommand(
    missing,
    2,
    'exec plugin "member-watch-no-such-plugin" of user "admin" in kubeconfig FILE is not installed (not found in PATH)',
    'missing plugin',
  );
  for (const r of results) assert.match(r.stderr, /^hint: Install it with: brew install no-such-plugin$/m);

  const failingDir = scratchDir();
  const script = plugin(failingDir, "echo 'the refresh token expired' >&2\necho 'run `sso-login` again' >&2\nexit 1");
  const failing = execKubeconfig(failingDir, script);
  await assertEveryCommand(
    failing,
    3,
    `exec plugin "${script}" of user "admin" failed with exit code 1: run \`sso-login\` again`,
    'failing plugin',
  );

  const garbageDir = scratchDir();
  const garbage = plugin(garbageDir, `echo '${env.cp.adminToken}'`);
  await assertEveryCommand(
    execKubeconfig(garbageDir, garbage),
    3,
    `exec plugin "${garbage}" of user "admin" printed something that is not JSON`,
    'garbage',
  );
});

test('HTTPS_PROXY and NO_PROXY are honoured as kubectl does; loopback is never proxied', async () => {
  const ns = await env.cluster.createNamespace('proxy');
  const port = new URL(env.cp.server).port;
  const proxy = await startConnectProxy(Number(port));
  try {
    // A name only the proxy "resolves"; the API server's certificate is checked for a name it carries.
    const viaName = kubeconfigWith((kc) =>
      Object.assign(cluster(kc), { server: `https://member-watch.invalid:${port}`, 'tls-server-name': 'kubernetes.default.svc' }),
    );
    for (const [name, member] of [
      ['HTTPS_PROXY', 'via-upper'],
      ['https_proxy', 'via-lower'],
    ]) {
      const r = await env.cli(['-n', ns, 'apply-member', member ?? ''], { kubeconfig: viaName, env: { [name ?? '']: proxy.url } });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    }
    const watched = await env.cli(['-n', ns, 'watch', '--count', '2'], { kubeconfig: viaName, env: { HTTPS_PROXY: proxy.url } });
    assert.equal(watched.code, 0, watched.stderr);
    assert.ok(proxy.tunnels.length >= 3 && proxy.tunnels.every((t) => t === `member-watch.invalid:${port}`), proxy.tunnels.join(' '));

    const bypassed = await env.cli(['-n', ns, 'apply-member', 'x'], {
      kubeconfig: viaName,
      env: { HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost,.invalid' },
    });
    assertError(
      bypassed,
      3,
      `cannot reach the API server at https://member-watch.invalid:${port} (context admin): host member-watch.invalid not found`,
      'NO_PROXY',
    );

    // The test server is on loopback: a proxy that is not even there is not used.
    const loopback = await env.cli(['-n', ns, 'apply-member', 'direct'], { env: { HTTPS_PROXY: 'http://127.0.0.1:1' } });
    assert.equal(loopback.code, 0, loopback.stderr);

    proxy.refuseWith(407);
    const proxyHost = proxy.url.replace('http://', '');
    const refused = `cannot reach the API server at https://member-watch.invalid:${port} (context admin): the proxy at ${proxyHost} refused the tunnel: HTTP 407 (proxy authentication required)`;
    for (const command of [['apply-member', 'y'], ['watch']]) {
      const r = await env.cli(['-n', ns, ...command], { kubeconfig: viaName, env: { HTTPS_PROXY: proxy.url }, timeoutMs: 20_000 });
      assertError(r, 3, refused, `407: ${command.join(' ')}`);
    }
  } finally {
    await proxy.close();
  }
});
