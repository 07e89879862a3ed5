// The two operators the operator benchmarks compare, each with its own ServiceAccount so the API server's audit log
// tells their requests apart: `member-watch operator` with deploy/'s account and arguments, and the peer
// (bench/peer-operator.mjs, a client-node informer) with an account that may do what it does.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { AuditTail, serviceAccountUser } from '../test/harness/audit.js';
import { clusterFor } from '../test/harness/cluster.js';
import { freePorts, httpStatus } from '../test/harness/control-plane.js';
import {
  containerArgs,
  containerEnv,
  type Container,
  DEPLOY_DIR,
  deploymentOf,
  kubectl,
  operatorContainer,
  renderDeploy,
  tokenKubeconfig,
} from '../test/harness/deploy.js';
import { requestToken } from '../test/harness/pod.js';
import type { BenchCluster } from './cluster.js';
import { CLI, type LineProcess, REPO_ROOT, sleep, spawnLines } from './lib.js';

const PEER = join(REPO_ROOT, 'bench', 'peer-operator.mjs');
const PEER_ACCOUNT = 'peer-operator';

const PEER_RBAC = (namespace: string): string => `apiVersion: v1
kind: ServiceAccount
metadata: { name: ${PEER_ACCOUNT}, namespace: ${namespace} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${PEER_ACCOUNT} }
rules:
  - { apiGroups: [helloworld.apimeister.com], resources: [members], verbs: [list, watch] }
  - { apiGroups: [helloworld.apimeister.com], resources: [members/status], verbs: [patch] }
  - { apiGroups: [''], resources: [events], verbs: [create] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${PEER_ACCOUNT} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${PEER_ACCOUNT} }
subjects: [{ kind: ServiceAccount, name: ${PEER_ACCOUNT}, namespace: ${namespace} }]
`;

export interface Operators {
  readonly cluster: BenchCluster;
  readonly audit: AuditTail;
  /** The audit log's user names of the two. */
  readonly oursUser: string;
  readonly peerUser: string;
  /** Where the replicas elect their leader (deploy/'s namespace and Lease name). */
  readonly leaseNamespace: string;
  readonly leaseName: string;
  startOurs(namespace: string, identity: string, onLine: (line: string) => void, extraArgs?: string[]): Promise<Operator>;
  startPeer(namespace: string, onLine: (line: string) => void): Operator;
  /** The POD_NAME of the holder of deploy/'s Lease (its identity less the random suffix), or undefined while it is free. */
  leaseHolder(): Promise<string | undefined>;
}

export interface Operator {
  readonly proc: LineProcess;
  readonly pid: number;
  /** Resolves once the process says it is ready: /readyz answers 200, or the peer wrote `ready`. */
  ready(timeoutMs?: number): Promise<void>;
  /** Sends the signal and waits until the process is gone (SIGKILL after 30 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, proc: LineProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`ended before ${what}: ${proc.stderr()}`);
    if (Date.now() > deadline) throw new Error(`not ${what} after ${timeoutMs} ms: ${proc.stderr()}`);
    await sleep(50);
  }
}

function operatorOf(proc: LineProcess, isReady: () => Promise<boolean> | boolean): Operator {
  const exited = new Promise<void>((r) => proc.child.once('close', () => r()));
  return {
    proc,
    pid: proc.child.pid ?? 0,
    ready: (timeoutMs = 60_000) => until('ready', isReady, timeoutMs, proc),
    stop: async (signal = 'SIGTERM') => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function accountKubeconfig(cluster: BenchCluster, namespace: string, account: string): Promise<string> {
  const token = await requestToken(clusterFor(cluster.cp), namespace, account);
  return tokenKubeconfig(cluster.cp, token, namespace, join(cluster.cp.dir, `kubeconfig-${account}`));
}

/** Applies deploy/ and the peer's account; both operators then run with tokens of their own accounts. */
export async function setUpOperators(cluster: BenchCluster): Promise<Operators> {
  const deployment = deploymentOf(await renderDeploy());
  const { container, serviceAccount, namespace } = operatorContainer(deployment);
  const kc = cluster.cp.kubeconfig;
  for (const args of [
    ['apply', '-f', join(DEPLOY_DIR, 'namespace.yaml')],
    ['apply', '-k', DEPLOY_DIR],
  ]) {
    const r = await kubectl(args, kc);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  }
  const peerFile = join(cluster.cp.dir, 'peer-rbac.yaml');
  writeFileSync(peerFile, PEER_RBAC(namespace));
  const peerApplied = await kubectl(['apply', '-f', peerFile], kc);
  if (peerApplied.code !== 0) throw new Error(`peer RBAC: ${peerApplied.stderr}`);
  const oursKubeconfig = await accountKubeconfig(cluster, namespace, serviceAccount);
  const peerKubeconfig = await accountKubeconfig(cluster, namespace, PEER_ACCOUNT);
  const leaseName = leaseNameOf(container);
  const leases = clusterFor(cluster.cp).kc.makeApiClient(CoordinationV1Api);
  return {
    cluster,
    audit: new AuditTail(cluster.cp.auditLog),
    oursUser: serviceAccountUser(namespace, serviceAccount),
    peerUser: serviceAccountUser(namespace, PEER_ACCOUNT),
    leaseNamespace: namespace,
    leaseName,
    startOurs: (watchNamespace, identity, onLine, extraArgs = []) =>
      startOurs({ container, kubeconfig: oursKubeconfig, podNamespace: namespace }, { watchNamespace, identity, onLine, extraArgs }),
    startPeer: (watchNamespace, onLine) => startPeer(peerKubeconfig, watchNamespace, onLine),
    leaseHolder: async () => {
      const lease = await leases.readNamespacedLease({ name: leaseName, namespace }).catch(() => undefined);
      // the operator's identity is POD_NAME_<random>, as client-go's convention makes it unique
      const holder = lease?.spec?.holderIdentity;
      if (!holder) return undefined;
      return holder.includes('_') ? holder.slice(0, holder.lastIndexOf('_')) : holder;
    },
  };
}

function leaseNameOf(container: Container): string {
  const flag = (container.args ?? []).find((a) => a.startsWith('--leader-election-id='));
  if (flag === undefined) throw new Error('deploy/ sets no --leader-election-id');
  return flag.slice('--leader-election-id='.length);
}

interface OursDeployment {
  container: Container;
  kubeconfig: string;
  podNamespace: string;
}

interface OursRun {
  watchNamespace: string;
  identity: string;
  onLine: (line: string) => void;
  extraArgs: string[];
}

/** deploy/'s arguments and environment, with the probe and metrics ports moved to free ones and one namespace watched. */
async function startOurs(d: OursDeployment, run: OursRun): Promise<Operator> {
  const [probes = 0, metrics = 0] = await freePorts(2);
  const env = containerEnv(d.container, { name: run.identity, namespace: d.podNamespace });
  const args = containerArgs(d.container, env, {
    '--health-probe-bind-address': `127.0.0.1:${probes}`,
    '--metrics-bind-address': `127.0.0.1:${metrics}`,
  });
  const all = ['--kubeconfig', d.kubeconfig, ...args, '--watch-namespace', run.watchNamespace, ...run.extraArgs];
  const proc = spawnLines({ file: process.execPath, args: [CLI, ...all], env }, run.onLine);
  return operatorOf(proc, async () => (await httpStatus(`http://127.0.0.1:${probes}/readyz`)) === 200);
}

function startPeer(kubeconfig: string, namespace: string, onLine: (line: string) => void): Operator {
  const proc = spawnLines({ file: process.execPath, args: [PEER, kubeconfig, namespace] }, onLine);
  return operatorOf(proc, () => proc.stderr().includes('ready\n'));
}
