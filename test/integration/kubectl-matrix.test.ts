// kubectl and member-watch side by side: the same kubeconfig, environment and flags, inside a pod or not, against two
// real API servers (A and B); their audit logs judge which server each tool reached, as whom (groups, extras,
// impersonation) and in which namespace. A case is a row of CASES: the next divergence is found by adding one.
// Where member-watch differs on purpose, the row says why, and docs/kubeconfig.md's table says the same.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type CliResult, runCli } from '../harness/cli.js';
import { clusterFor } from '../harness/cluster.js';
import { startConnectProxy } from '../harness/connect-proxy.js';
import { selfSigned, signedBy } from '../harness/fake-apiserver.js';
import { type ControlPlane, killOnExit, removeOnExit, startControlPlane, type TokenUser } from '../harness/control-plane.js';
import { KUBECTL, kubectl } from '../harness/deploy.js';
import { requestToken } from '../harness/pod.js';
import { judge, probeName, runTool, type Seen, SERVICE_ACCOUNT_NAMESPACE, type Tool, TOOLS } from '../harness/side-by-side.js';
import { startSocksProxy } from '../harness/socks-proxy.js';
import { CASES, type Label, LABELS, type Scene, type Server, V1 } from './kubectl-matrix-cases.js';

// --- the scene: two control planes, identities, files ---

const caseIds = CASES.map((_, i) => `m${i}`);
const OIDC_EXPIRY = 4_102_444_800; // 2100-01-01

function tokenOf(id: string, label: Label): string {
  if (label === 'oidc') {
    const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    return [part({ alg: 'RS256', typ: 'JWT' }), part({ iss: 'https://issuer.invalid', sub: id, exp: OIDC_EXPIRY }), 'c2ln'].join('.');
  }
  return `${id}-${label}-${SECRET}`;
}
const SECRET = randomBytes(12).toString('hex');

const tokenUsers: TokenUser[] = caseIds.flatMap((id) =>
  LABELS.map((label) => ({ token: tokenOf(id, label), name: `${id}-${label}`, groups: label === 'weak' ? [] : ['matrix'] })),
);

interface Env {
  servers: Server[];
  root: string;
  clientCa: { cert: string; key: string };
  cleanups: Array<() => Promise<void> | void>;
  results: Map<number, { probe: string; runs: Record<Tool, CliResult>; scene: Scene; error?: unknown }>;
  seen?: (tool: Tool, probe: string, caseId: string) => Seen;
}

const env = {} as Env;

function scene(i: number): Scene {
  const id = caseIds[i] ?? '';
  const [A, B] = env.servers as [Server, Server];
  const dir = join(env.root, id);
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  const s: Scene = {
    A,
    B,
    dir,
    home,
    token: (label) => tokenOf(id, label),
    who: (label) => {
      if (label === 'pod')
        return `system:serviceaccount:${SERVICE_ACCOUNT_NAMESPACE}:${id}-pod [system:serviceaccounts,system:serviceaccounts:${SERVICE_ACCOUNT_NAMESPACE}]`;
      return label === 'weak' ? `${id}-weak` : `${id}-${label} [matrix]`;
    },
    write,
    kubeconfig: (doc, name = 'kubeconfig') => write(name, JSON.stringify(doc, null, 2)),
    simple: (o = {}) => {
      const server = o.server ?? A;
      return {
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'c',
        clusters: [{ name: 'k', cluster: { server: server.url, 'certificate-authority': server.caFile, ...o.cluster } }],
        users: [{ name: 'u', user: { token: s.token('a'), ...o.user } }],
        contexts: [{ name: 'c', context: { cluster: 'k', user: 'u', namespace: 'ns-c', ...o.context } }],
      };
    },
    cert: () => signedBy(env.clientCa, join(dir, 'client'), `/O=matrix/CN=${id}-cert`),
    plugin: (body, apiVersion = V1) => {
      const file = join(dir, 'plugin.sh');
      const credential =
        'token' in body ? `echo '${JSON.stringify({ apiVersion, kind: 'ExecCredential', status: { token: body.token } })}'` : body.shell;
      writeFileSync(file, `#!/bin/sh\n${credential}\n`);
      chmodSync(file, 0o755);
      return file;
    },
    env: (more = {}) => ({ HOME: home, ...more }),
    pod: async (server, namespaceFile) => {
      const cluster = clusterFor(server.cp);
      await cluster.core.createNamespacedServiceAccount({
        namespace: SERVICE_ACCOUNT_NAMESPACE,
        body: { metadata: { name: `${id}-pod` } },
      });
      const token = await requestToken(cluster, SERVICE_ACCOUNT_NAMESPACE, `${id}-pod`);
      return { cp: server.cp, name: id, token, namespaceFile };
    },
    connectProxy: async (auth) => {
      const proxy = await startConnectProxy(A.port, auth);
      env.cleanups.push(() => proxy.close());
      return auth === undefined
        ? proxy.url
        : proxy.url.replace('//', `//${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@`);
    },
    socksProxy: async () => {
      const proxy = await startSocksProxy(A.port);
      env.cleanups.push(() => proxy.close());
      return proxy.url;
    },
    kubectlProxy: (kubeconfig) => startKubectlProxy(kubeconfig),
  };
  return s;
}

/** `kubectl proxy` on a free port, authenticating as its kubeconfig says; stopped with the test. */
function startKubectlProxy(kubeconfig: string): Promise<string> {
  const child = spawn(KUBECTL, ['proxy', '--port=0', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  env.cleanups.push(() => void child.kill());
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const port = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      if (port !== undefined) resolve(`http://127.0.0.1:${port}`);
    });
    child.once('exit', (code) => reject(new Error(`kubectl proxy exited (${String(code)}): ${out}`)));
  });
}

async function serverMinor(cp: ControlPlane): Promise<number> {
  const r = await kubectl(['version', '-o', 'json'], cp.kubeconfig);
  return Number.parseInt((JSON.parse(r.stdout) as { serverVersion: { minor: string } }).serverVersion.minor, 10);
}

/** At most `limit` at once, in order of start. */
async function inTurns<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const CONCURRENCY = 3;

before(async () => {
  env.root = mkdtempSync(join(tmpdir(), 'member-watch-matrix-'));
  removeOnExit(env.root);
  // trusted by both servers, for the cases with client certificates
  env.clientCa = selfSigned(join(env.root, 'client-ca'), 'matrix-client-ca');
  const options = { auditEveryoneButAdmin: true, tokenUsers, extraApiserverArgs: [`--client-ca-file=${env.clientCa.cert}`] };
  const [a, b] = await Promise.all([startControlPlane(options), startControlPlane(options)]);
  env.cleanups = [];
  env.results = new Map();
  const minor = await serverMinor(a);
  env.servers = [a, b].map((cp, i): Server => ({
    name: i === 0 ? 'A' : 'B',
    cp,
    minor,
    url: cp.server,
    port: Number(new URL(cp.server).port),
    caFile: cp.caFile,
  }));
  for (const { cp } of env.servers) {
    // install-crd rather than kubectl apply: the manifest's selectableFields are refused by kubectl's validation on
    // a server before 1.30, which install-crd handles
    const installed = await runCli(['install-crd', '--kubeconfig', cp.kubeconfig]);
    if (installed.code !== 0) throw new Error(`member-watch install-crd: ${installed.stderr}`);
    for (const args of [
      // the cases' users, the pods' service accounts and the user they impersonate may do anything; an anonymous
      // request may discover the API (kubectl's first step), so that it is refused for the Member, not before
      [
        'create',
        'clusterrolebinding',
        'matrix',
        '--clusterrole=cluster-admin',
        '--group=matrix',
        '--group=system:serviceaccounts',
        '--user=bob',
      ],
      ['create', 'clusterrolebinding', 'matrix-discovery', '--clusterrole=system:discovery', '--group=system:unauthenticated'],
      ['create', 'namespace', SERVICE_ACCOUNT_NAMESPACE],
      ['wait', '--for=condition=Established', 'crd/members.helloworld.apimeister.com'],
    ]) {
      const r = await kubectl(args, cp.kubeconfig);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    }
  }
  await inTurns(
    CASES.map((c, i) => ({ c, i })),
    CONCURRENCY,
    async ({ c, i }) => {
      const probe = probeName(i);
      const s = scene(i);
      try {
        const invocation = await c.setup(s);
        const [kubectlRun, memberWatchRun] = await Promise.all(TOOLS.map((tool) => runTool(tool, invocation, probe)));
        env.results.set(i, { probe, scene: s, runs: { kubectl: kubectlRun as CliResult, 'member-watch': memberWatchRun as CliResult } });
      } catch (error) {
        env.results.set(i, { probe, scene: s, runs: {} as Record<Tool, CliResult>, error });
      }
    },
  );
  // the last requests' audit events are written as their answers complete
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  env.seen = judge(env.servers.map((sv) => ({ name: sv.name, auditLog: sv.cp.auditLog })));
});

after(async () => {
  for (const cleanup of env.cleanups ?? []) await cleanup();
  await Promise.all((env.servers ?? []).map((sv) => sv.cp.stop()));
  if (env.root !== undefined) rmSync(env.root, { recursive: true, force: true });
});

function errorLine(r: CliResult): string {
  return r.stderr.split('\n').find((l) => l.startsWith('error: ')) ?? '(no error line)';
}

for (const [i, c] of CASES.entries()) {
  test(`${c.section}: ${c.name}`, () => {
    const result = env.results.get(i);
    assert.ok(result !== undefined, 'the case did not run');
    if (result.error !== undefined) throw result.error;
    const { probe, runs, scene: s } = result;
    const seen = (tool: Tool): Seen => env.seen?.(tool, probe, caseIds[i] ?? '') ?? { probe: [], others: [] };
    const report = TOOLS.map(
      (tool) => `${tool}: exit ${String(runs[tool].code)}, seen ${JSON.stringify(seen(tool))}\n${runs[tool].stderr.trim()}`,
    ).join('\n');
    const [kubectlSaw, memberWatchSaw] = [seen('kubectl'), seen('member-watch')];
    assert.deepEqual(memberWatchSaw.probe, c.sees(s).sort(), `what the servers saw of member-watch\n${report}`);
    if (c.says !== undefined) assert.match(errorLine(runs['member-watch']), c.says, report);
    assert.doesNotMatch(runs['member-watch'].stderr, /\n\s+at /, 'a stack trace');
    if (c.differs !== undefined) {
      assert.notDeepEqual(
        kubectlSaw.probe,
        memberWatchSaw.probe,
        `kubectl does the same now: the case is identical, not different\n${report}`,
      );
      return;
    }
    if (c.discoveryRefused) {
      assert.deepEqual(kubectlSaw.probe, [], `kubectl got to the Member: the case is an ordinary one\n${report}`);
      const whoAndWhere = (lines: string[]): string[] => [...new Set(lines.map((l) => l.replace(/( ns=\S+)? \d+$/, '')))].sort();
      assert.deepEqual(whoAndWhere(kubectlSaw.others), whoAndWhere(memberWatchSaw.probe), `kubectl and member-watch differ\n${report}`);
    } else {
      assert.deepEqual(kubectlSaw.probe, memberWatchSaw.probe, `kubectl and member-watch differ\n${report}`);
    }
    assert.equal(runs.kubectl.code === 0, runs['member-watch'].code === 0, `one succeeded, one failed\n${report}`);
  });
}
