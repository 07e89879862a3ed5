// deploy/ as the cluster gets it: the rendered kustomize base, applied with kubectl, and what a pod of its Deployment
// would be started with (arguments, environment, uid), so tests and benchmarks run the operator as deployed.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import type { ControlPlane } from './control-plane.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');
export const KUBECTL = '/usr/bin/kubectl';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  securityContext?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  securityContext?: { runAsUser?: number; [field: string]: unknown };
  containers: Container[];
  [field: string]: unknown;
}

export interface Deployment extends KubeObject {
  spec: { replicas?: number; template: { spec: PodSpec } };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectl(args: string[], kubeconfig?: string): Promise<KubectlResult> {
  const all = kubeconfig === undefined ? args : ['--kubeconfig', kubeconfig, ...args];
  return new Promise((res) => {
    execFile(KUBECTL, all, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      res({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
    });
  });
}

/** `kubectl kustomize deploy/`: every object the base creates. */
export async function renderDeploy(): Promise<KubeObject[]> {
  const r = await kubectl(['kustomize', DEPLOY_DIR]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${DEPLOY_DIR} failed: ${r.stderr}`);
  return yaml.loadAll(r.stdout) as KubeObject[];
}

export function deploymentOf(objects: KubeObject[]): Deployment {
  const found = objects.filter((o) => o.kind === 'Deployment');
  if (found.length !== 1) throw new Error(`deploy/ should hold one Deployment, it holds ${found.length}`);
  return found[0] as Deployment;
}

/** The one container of the operator's pod, and the uid it runs as. */
export function operatorContainer(d: Deployment): { container: Container; uid: number; serviceAccount: string; namespace: string } {
  const pod = d.spec.template.spec;
  const [container, ...others] = pod.containers;
  if (container === undefined || others.length > 0) throw new Error('the Deployment should run exactly one container');
  const uid = (container.securityContext?.['runAsUser'] as number | undefined) ?? pod.securityContext?.runAsUser;
  if (uid === undefined) throw new Error('the Deployment sets no runAsUser');
  if (pod.serviceAccountName === undefined || d.metadata.namespace === undefined)
    throw new Error('the Deployment names no service account or namespace');
  return { container, uid, serviceAccount: pod.serviceAccountName, namespace: d.metadata.namespace };
}

/** The container's environment as the kubelet fills it for a pod NAME in NAMESPACE (downward API fields). */
export function containerEnv(container: Container, pod: { name: string; namespace: string }): Record<string, string> {
  const fields: Record<string, string> = { 'metadata.name': pod.name, 'metadata.namespace': pod.namespace };
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    const path = v.valueFrom?.fieldRef?.fieldPath;
    const value = path === undefined ? v.value : fields[path];
    if (value === undefined) throw new Error(`the test cannot fill env ${v.name} (${JSON.stringify(v)})`);
    env[v.name] = value;
  }
  return env;
}

/**
 * The container's arguments as the kubelet hands them over, `$(VAR)` replaced from the container's environment,
 * with `--flag=value` replaced for the flags given: tests move the probe and metrics ports off :8080/:8081, which
 * other processes on this machine may hold (a pod has its own network namespace).
 */
export function containerArgs(container: Container, env: Record<string, string>, overrides: Record<string, string> = {}): string[] {
  const args = (container.args ?? []).map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (ref, name: string) => env[name] ?? ref));
  for (const flag of Object.keys(overrides)) {
    if (!args.some((a) => a.startsWith(`${flag}=`))) throw new Error(`the Deployment's args do not set ${flag}`);
  }
  return args.map((a) => {
    const flag = a.split('=', 1)[0] ?? a;
    const value = overrides[flag];
    return value === undefined ? a : `${flag}=${value}`;
  });
}

/**
 * A kubeconfig that authenticates with a bearer token (a service account's), its context in `namespace` as a pod's
 * in-cluster configuration is: for tools run outside a pod.
 */
export function tokenKubeconfig(cp: ControlPlane, token: string, namespace: string, file: string): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'sa',
    clusters: [{ name: 'test', cluster: { server: cp.server, 'certificate-authority': cp.caFile } }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'test', user: 'sa', namespace } }],
  };
  writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  return file;
}
