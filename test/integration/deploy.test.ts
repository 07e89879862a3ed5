// deploy/ against the real API server: every object accepted, the ServiceAccount holding what the operator needs and
// nothing else, the pod locked down as docs/deploy.md says, and the image's contents (the packed package, production
// dependencies only) running the operator as the Deployment's uid.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { AuthorizationV1Api, CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { auditedRequests, permissionOf, serviceAccountUser } from '../harness/audit.js';
import type { RunningCli } from '../harness/cli.js';
import { freePorts, httpStatus } from '../harness/control-plane.js';
import {
  containerArgs,
  containerEnv,
  DEPLOY_DIR,
  deploymentOf,
  type KubectlResult,
  type KubeObject,
  kubectl,
  operatorContainer,
  type PodSpec,
  renderDeploy,
} from '../harness/deploy.js';
import { packFreshClone } from '../harness/packed.js';
import { nodeForAnyUid, requestToken, spawnPod } from '../harness/pod.js';
import { lines, type Member, useControlPlane, waitFor } from './support.js';

const env = useControlPlane({ auditServiceAccounts: true });
const ROOT = new URL('../../', import.meta.url);

let firstApply: Promise<KubectlResult> | undefined;

/** Applies deploy/ once per file (the namespace first, as a dry run needs it); later callers get the first result. */
function applyDeploy(): Promise<KubectlResult> {
  firstApply ??= (async () => {
    const ns = await kubectl(['apply', '-f', join(DEPLOY_DIR, 'namespace.yaml')], env.cp.kubeconfig);
    if (ns.code !== 0) throw new Error(`kubectl apply namespace.yaml: ${ns.stderr}`);
    return kubectl(['apply', '-k', DEPLOY_DIR], env.cp.kubeconfig);
  })();
  return firstApply;
}

/** How kubectl names an object in its messages: `deployment.apps/member-watch-operator`. */
function kubectlName(o: KubeObject): string {
  const group = o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
  return `${o.kind.toLowerCase()}${group}/${o.metadata.name}`;
}

/** `kubectl apply` output as object → action (`created`, `unchanged`, `configured (server dry run)`...). */
function actions(stdout: string): Map<string, string> {
  return new Map(lines(stdout).map((l) => [l.split(' ', 1)[0] ?? l, l.slice(l.indexOf(' ') + 1)]));
}

test('kubectl apply -k deploy/: a server dry run accepts every object; applied for real, twice, the second changes nothing', async () => {
  const objects = await renderDeploy();
  const names = objects.map(kubectlName).sort();
  assert.ok(names.length >= 7, `deploy/ renders only ${names.join(', ')}`);
  const ns = await kubectl(['apply', '-f', join(DEPLOY_DIR, 'namespace.yaml')], env.cp.kubeconfig);
  assert.equal(ns.code, 0, ns.stderr);

  const dry = await kubectl(['apply', '--dry-run=server', '-k', DEPLOY_DIR], env.cp.kubeconfig);
  assert.equal(dry.code, 0, dry.stderr);
  const dryActions = actions(dry.stdout);
  assert.deepEqual([...dryActions.keys()].sort(), names);
  for (const [name, action] of dryActions) assert.match(action, /^(created|unchanged|configured) \(server dry run\)$/, name);
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  await assert.rejects(
    env.cluster.core.readNamespacedServiceAccount({ name: sa?.metadata.name ?? '', namespace: sa?.metadata.namespace ?? '' }),
    'a dry run created the ServiceAccount',
  );

  const applied = await applyDeploy();
  assert.equal(applied.code, 0, applied.stderr);
  assert.deepEqual([...actions(applied.stdout).keys()].sort(), names);
  const again = await kubectl(['apply', '-k', DEPLOY_DIR], env.cp.kubeconfig);
  assert.equal(again.code, 0, again.stderr);
  for (const [name, action] of actions(again.stdout)) assert.equal(action, 'unchanged', `${name} changes on every apply`);
});

/** docs/deploy.md's "Pod security" table: setting path (in the pod template's spec) → value. */
function documentedSecurityTable(): Array<[string, unknown]> {
  const readme = readFileSync(new URL('docs/deploy.md', ROOT), 'utf8');
  const start = readme.indexOf('### Pod security');
  assert.notEqual(start, -1, 'docs/deploy.md has no "Pod security" section');
  const section = readme.slice(start, readme.indexOf('\n#', start + 1));
  const rows = [...section.matchAll(/^\| `([^`]+)` \| `([^`]+)` \|$/gm)];
  return rows.map((m) => [m[1] ?? '', yaml.load(m[2] ?? '')]);
}

function at(root: unknown, path: string): unknown {
  let node = root;
  for (const part of path.split('.')) {
    const indexed = /^(\w+)\[(\d+)\]$/.exec(part);
    const record = node as Record<string, unknown> | undefined;
    node = indexed ? (record?.[indexed[1] ?? ''] as unknown[] | undefined)?.[Number(indexed[2])] : record?.[part];
  }
  return node;
}

test('the Deployment is locked down as docs/deploy.md says, for the uid the Dockerfile runs as', async () => {
  const deployment = deploymentOf(await renderDeploy());
  const pod: PodSpec = deployment.spec.template.spec;
  const table = documentedSecurityTable();
  assert.ok(table.length >= 8, `the documented security table has ${table.length} rows`);
  for (const [path, value] of table) assert.deepEqual(at(pod, path), value, `spec.template.spec.${path}`);

  // what the restricted Pod Security Standard asks, whatever the docs say
  const { container, uid } = operatorContainer(deployment);
  const sc = container.securityContext ?? {};
  assert.notEqual(uid, 0);
  assert.equal(at(pod, 'securityContext.runAsNonRoot') ?? sc['runAsNonRoot'], true);
  assert.equal(sc['allowPrivilegeEscalation'], false);
  assert.equal(sc['readOnlyRootFilesystem'], true);
  assert.deepEqual(at(sc, 'capabilities.drop'), ['ALL']);
  assert.equal(at(sc, 'capabilities.add'), undefined);
  assert.equal(at(pod, 'securityContext.seccompProfile.type') ?? at(sc, 'seccompProfile.type'), 'RuntimeDefault');
  for (const host of ['hostNetwork', 'hostPID', 'hostIPC']) assert.notEqual(pod[host], true, host);
  assert.equal((pod['volumes'] as unknown[] | undefined)?.length ?? 0, 0, 'the operator needs no volume');

  const dockerfile = readFileSync(new URL('Dockerfile', ROOT), 'utf8');
  assert.match(dockerfile, new RegExp(`^USER ${uid}:${uid}$`, 'm'), 'the image runs as another uid');
});

test('the Deployment runs two replicas with leader election, the probes and the named metrics port', async () => {
  const deployment = deploymentOf(await renderDeploy());
  const { container } = operatorContainer(deployment);
  const args = container.args ?? [];
  assert.equal(deployment.spec.replicas, 2);
  assert.equal(args[0], 'operator');
  assert.ok(args.includes('--leader-elect'), args.join(' '));
  const portOf = (flag: string): number =>
    Number(
      args
        .find((a) => a.startsWith(`${flag}=`))
        ?.split(':')
        .pop(),
    );
  const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
  assert.equal(ports['metrics'], portOf('--metrics-bind-address'));
  assert.equal(ports['probes'], portOf('--health-probe-bind-address'));
  assert.deepEqual(at(container, 'livenessProbe.httpGet'), { path: '/healthz', port: 'probes' });
  assert.deepEqual(at(container, 'readinessProbe.httpGet'), { path: '/readyz', port: 'probes' });
  for (const kind of ['cpu', 'memory']) assert.ok(at(container, `resources.requests.${kind}`), `no ${kind} request`);
  const fieldOf = (name: string): unknown => container.env?.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
  assert.equal(fieldOf('POD_NAME'), 'metadata.name');
  assert.equal(fieldOf('POD_NAMESPACE'), 'metadata.namespace');
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string };
  const kustomization = yaml.load(readFileSync(join(DEPLOY_DIR, 'kustomization.yaml'), 'utf8')) as { images: Array<{ newTag: string }> };
  assert.equal(kustomization.images[0]?.newTag, pkg.version, 'deploy/ deploys another version than package.json');
});

interface Access {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

const OPERATOR_NS = 'member-watch';
const LEASE = 'member-watch-operator';
const MEMBERS = { group: 'helloworld.apimeister.com', resource: 'members' };
const LEASES = { group: 'coordination.k8s.io', resource: 'leases' };

/** What the operator must not be able to do (what it may do is checked against what it did, below). */
const FORBIDDEN: Access[] = [
  { verb: 'create', ...MEMBERS, namespace: 'default' },
  { verb: 'delete', ...MEMBERS, namespace: 'default', name: 'patrick' },
  { verb: 'deletecollection', ...MEMBERS, namespace: 'default' },
  { verb: 'update', ...MEMBERS, namespace: 'default', name: 'patrick' },
  { verb: 'update', ...MEMBERS, subresource: 'status', namespace: 'default', name: 'patrick' },
  { verb: 'get', resource: 'secrets', namespace: OPERATOR_NS },
  { verb: 'list', resource: 'secrets' },
  { verb: 'get', resource: 'configmaps', namespace: OPERATOR_NS },
  { verb: 'list', resource: 'pods', namespace: OPERATOR_NS },
  { verb: 'create', resource: 'pods', namespace: OPERATOR_NS },
  { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: OPERATOR_NS, name: 'member-watch-operator' },
  { verb: 'delete', resource: 'events', namespace: 'default' },
  { verb: 'update', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: 'members.helloworld.apimeister.com' },
  { verb: 'patch', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: 'members.helloworld.apimeister.com' },
  { verb: 'delete', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: 'members.helloworld.apimeister.com' },
  { verb: 'create', ...LEASES, namespace: 'default' },
  { verb: 'create', ...LEASES, namespace: 'kube-system' },
  { verb: 'get', ...LEASES, namespace: 'kube-system', name: LEASE },
  { verb: 'update', ...LEASES, namespace: 'kube-system', name: 'kube-controller-manager' },
  { verb: 'update', ...LEASES, namespace: OPERATOR_NS, name: 'someone-else' },
  { verb: 'delete', ...LEASES, namespace: OPERATOR_NS, name: LEASE },
  { verb: 'list', ...LEASES, namespace: OPERATOR_NS },
  { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
  { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
  { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
  { verb: 'impersonate', resource: 'users' },
  { verb: 'impersonate', resource: 'serviceaccounts', namespace: 'kube-system' },
];

function describeAccess(a: Access): string {
  const what = `${a.resource}${a.group ? `.${a.group}` : ''}${a.subresource ? `/${a.subresource}` : ''}`;
  return `${a.verb} ${what}${a.name ? ` ${a.name}` : ''} in ${a.namespace ?? 'the cluster'}`;
}

async function canI(token: string, attributes: Access): Promise<boolean> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: env.cp.server, caFile: env.cp.caFile }],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'sa', cluster: 'test', user: 'sa' }],
    currentContext: 'sa',
  });
  const review = await kc
    .makeApiClient(AuthorizationV1Api)
    .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } });
  return review.status?.allowed === true;
}

test("the deploy's ServiceAccount cannot do what the operator does not need (SelfSubjectAccessReview)", async () => {
  const applied = await applyDeploy();
  assert.equal(applied.code, 0, applied.stderr);
  const { serviceAccount, namespace } = operatorContainer(deploymentOf(await renderDeploy()));
  assert.equal(namespace, OPERATOR_NS);
  const token = await requestToken(env.cluster, namespace, serviceAccount);
  const allowed: string[] = [];
  for (const access of FORBIDDEN) if (await canI(token, access)) allowed.push(describeAccess(access));
  assert.deepEqual(allowed, [], 'the operator may do more than it needs');
  // the review itself is answered for this account: it can do what deploy/ grants
  assert.equal(await canI(token, { verb: 'watch', ...MEMBERS }), true);
  assert.equal(await canI(token, { verb: 'update', ...LEASES, namespace: OPERATOR_NS, name: LEASE }), true);
});

// --- the operator as the Deployment runs it ---

interface LogLine {
  level: string;
  msg: string;
  namespace: string | null;
  name: string | null;
  event: string | null;
}

interface Pod {
  name: string;
  run: RunningCli;
  probes: number;
  /** The next log line announcing `event` for member `name`. */
  announced(event: string, name: string, timeoutMs?: number): Promise<LogLine>;
}

/** What the Role and ClusterRole grant, as `verb resource[.group][/subresource]`, the audit log's spelling. */
function granted(objects: KubeObject[]): Set<string> {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
  const rules = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').flatMap((o) => o['rules'] as Rule[]);
  return new Set(
    rules.flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) => {
          const [plural, sub] = resource.split('/');
          const name = `${plural}${group ? `.${group}` : ''}${sub ? `/${sub}` : ''}`;
          return rule.verbs.map((verb) => `${verb} ${name}`);
        }),
      ),
    ),
  );
}

/** Granted for what a quiet run cannot show: the re-read of a member after a conflict (409), of an Event made already. */
const ONLY_ON_CONFLICT = ['get members.helloworld.apimeister.com', 'get events'];

test('the packed production install runs the operator as the Deployment would: its uid, a read-only root, a handover, no 403', async () => {
  const applied = await applyDeploy();
  assert.equal(applied.code, 0, applied.stderr);
  const objects = await renderDeploy();
  const { container, uid, serviceAccount, namespace } = operatorContainer(deploymentOf(objects));
  const packed = await packFreshClone();
  const pods: Pod[] = [];
  try {
    // what the image holds: the tarball installed by npm, the files root's and readable by the operator's uid
    const image = dirname(packed.prefix);
    chmodSync(image, 0o755);
    const node = nodeForAnyUid(image);
    const bin = join(packed.packageDir, 'bin', 'member-watch.js');
    const dockerfile = readFileSync(new URL('Dockerfile', ROOT), 'utf8');
    assert.match(
      dockerfile,
      /^RUN npm install --global --prefix \/app .*\/pack\/member-watch-\*\.tgz$/m,
      'the image installs it otherwise',
    );
    assert.ok(dockerfile.includes(`"/app/${relative(packed.prefix, bin)}"`), 'the image starts another file');
    const token = await requestToken(env.cluster, namespace, serviceAccount);
    const ns = await env.cluster.createNamespace('pods');
    await env.createMember(ns, 'early', 'green');

    const startPod = async (name: string): Promise<Pod> => {
      const [probes = 0, metrics = 0] = await freePorts(2);
      const podEnv = containerEnv(container, { name, namespace });
      const args = containerArgs(container, podEnv, {
        '--health-probe-bind-address': `127.0.0.1:${probes}`,
        '--metrics-bind-address': `127.0.0.1:${metrics}`,
      });
      const run = spawnPod(env.cp, [node, bin, ...args], { name, namespace, token, uid, env: podEnv });
      const announced = async (event: string, member: string, timeoutMs = 30_000): Promise<LogLine> => {
        const line = await run.waitForLine((l) => {
          const parsed = parseLog(l);
          return parsed?.event === event && parsed.name === member && parsed.namespace === ns;
        }, timeoutMs);
        return JSON.parse(line) as LogLine;
      };
      return { name, run, probes, announced };
    };
    // the account's own requests before (the access reviews above) are not the operator's
    const since = Date.now();
    pods.push(await startPod('member-watch-operator-a'), await startPod('member-watch-operator-b'));

    // one of them leads (its identity is POD_NAME plus a suffix), the other stands by; both are ready
    const holder = await waitFor('a leader', async () => {
      const lease = await readLease();
      return pods.find((p) => lease?.spec?.holderIdentity?.startsWith(`${p.name}_`));
    });
    const standby = pods.find((p) => p !== holder) as Pod;
    for (const p of pods) await waitFor(`${p.name} ready`, async () => (await httpStatus(`http://127.0.0.1:${p.probes}/readyz`)) === 200);
    for (const p of pods) {
      const pid = String(p.run.child.pid);
      assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
      assert.ok(mountOptions(pid, '/').includes('ro'), `${p.name}'s root filesystem is writable`);
    }

    // welcome (a member from before, and a new one), moves (one repeated), goodbye
    await holder.announced('Welcomed', 'early');
    await env.createMember(ns, 'patrick', 'blue');
    await holder.announced('Welcomed', 'patrick');
    for (const team of ['red', 'blue', 'red']) {
      await env.setTeam(ns, 'patrick', team);
      await holder.announced('Moved', 'patrick');
    }
    const member = (await env.getMember(ns, 'patrick')) as Member & { status?: { announcedTeam?: string } };
    assert.equal(member.status?.announcedTeam, 'red');
    await env.deleteMember(ns, 'patrick');
    await holder.announced('Farewell', 'patrick');
    await waitFor('patrick gone', async () => (await env.getMember(ns, 'patrick')) === undefined || undefined);

    // the leader hands over on SIGTERM; the standby then does the work
    holder.run.kill('SIGTERM');
    assert.equal((await holder.run.done).code, 0, holder.run.stderr());
    await waitFor('the standby leads', async () => (await readLease())?.spec?.holderIdentity?.startsWith(`${standby.name}_`));
    await env.createMember(ns, 'after', 'blue');
    await standby.announced('Welcomed', 'after');
    await env.deleteMember(ns, 'early');
    await standby.announced('Farewell', 'early');
    // one Event per announcement, a repeated move too: each is an announcement of its own
    const expected = [
      'Farewell early 1',
      'Farewell patrick 1',
      'Moved patrick 1',
      'Moved patrick 1',
      'Moved patrick 1',
      'Welcomed after 1',
      'Welcomed early 1',
      'Welcomed patrick 1',
    ];
    let events: string[] = [];
    await waitFor(`the Events ${expected.join(', ')}`, async () => {
      const list = await env.cluster.core.listNamespacedEvent({ namespace: ns });
      events = list.items.map((e) => `${e.reason ?? ''} ${e.involvedObject.name ?? ''} ${e.count ?? 1}`).sort();
      return events.length >= expected.length && events.every((e) => expected.includes(e));
    }).catch(() => undefined);
    assert.deepEqual(events, expected);
    standby.run.kill('SIGTERM');
    assert.equal((await standby.run.done).code, 0, standby.run.stderr());

    // the documented way to uninstall and keep the Members, once the operator is gone: its finalizer is released
    const held = async (name: string): Promise<string[]> =>
      ((await env.getMember(ns, name)) as { metadata: { finalizers?: string[] } } | undefined)?.metadata.finalizers ?? [];
    assert.deepEqual(await held('after'), ['helloworld.apimeister.com/farewell']);
    const released = await env.cli(['release-finalizers']);
    assert.equal(released.code, 0, released.stderr);
    assert.deepEqual(await held('after'), []);

    // what the account was asked to do, as the API server saw it
    const asked = auditedRequests(env.cp.auditLog, serviceAccountUser(namespace, serviceAccount)).filter(
      (r) => Date.parse(r.requestReceivedTimestamp) >= since,
    );
    const refused = asked.filter((r) => r.responseStatus?.code === 403).map((r) => `${permissionOf(r)} ${r.requestURI}`);
    assert.deepEqual(refused, [], 'the API server refused the operator');
    for (const p of pods) {
      // a warning may be a race the operator rides out (two replicas creating the Lease at once: 409); not a refusal
      const complaints = p.run.lines.filter((l) => parseLog(l)?.level !== 'info').concat(lines(p.run.stderr()));
      assert.deepEqual(
        complaints.filter((l) => /HTTP 403|forbidden/i.test(l)),
        [],
        `${p.name} was refused`,
      );
    }
    // discovery (non-resource URLs such as /apis/GROUP/VERSION) is every authenticated user's: not deploy/'s to grant
    const used = new Set(asked.filter((r) => r.objectRef?.resource !== undefined).map(permissionOf));
    const grants = granted(objects);
    assert.deepEqual(
      [...used].filter((u) => !grants.has(u)),
      [],
      'used without a grant (a 403 would say so too)',
    );
    assert.deepEqual(
      [...grants].filter((g) => !used.has(g) && !ONLY_ON_CONFLICT.includes(g)).sort(),
      [],
      'granted but never used: more than the operator needs',
    );
  } finally {
    for (const p of pods) p.run.kill('SIGKILL');
    await Promise.all(pods.map((p) => p.run.done));
    packed.remove();
  }
});

/** The options of the mount at `path` as the process sees it (/proc/PID/mountinfo: field 5 the point, 6 the options). */
function mountOptions(pid: string, path: string): string[] {
  const mounts = lines(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).map((l) => l.split(' '));
  const at = mounts.filter((fields) => fields[4] === path).pop();
  return at?.[5]?.split(',') ?? [];
}

function parseLog(line: string): LogLine | undefined {
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return undefined;
  }
}

async function readLease(): Promise<V1Lease | undefined> {
  const leases = env.cluster.kc.makeApiClient(CoordinationV1Api);
  return leases.readNamespacedLease({ name: LEASE, namespace: OPERATOR_NS }).catch(() => undefined);
}
