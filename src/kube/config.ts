import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Cluster, Context, User } from '@kubernetes/client-node/dist/config_types.js';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { CliError, ExitCode, usageError } from '../errors.js';

export interface ConnectionFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
}

/** Where requests go and as whom: what error messages need to name. */
export interface ResolvedConfig {
  kc: KubeConfig;
  contextName: string;
  cluster: Cluster;
  user: User | null;
  namespace: string;
  /** A short description of where the configuration came from, for messages. */
  source: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * kubectl's order: --kubeconfig, then $KUBECONFIG (several paths, first one to set a value wins,
 * missing files skipped), then ~/.kube/config, then the pod's service account.
 */
export function resolveConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const { kc, source } = loadKubeConfig(flags.kubeconfig, env);
  if (flags.context !== undefined) selectContext(kc, flags.context, source);
  const contextName = kc.getCurrentContext();
  const context = contextName ? kc.getContextObject(contextName) : null;
  if (!contextName || !context) {
    throw usageError(`no current context in ${source}`, 'pass --context NAME or run `kubectl config use-context NAME`');
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw usageError(`context "${contextName}" in ${source} names cluster "${context.cluster}", which is not defined`);
  }
  checkServer(cluster, source);
  const user = kc.getCurrentUser();
  if (context.user && !user) throw usageError(`context "${contextName}" in ${source} names user "${context.user}", which is not defined`);
  const namespace = flags.namespace ?? context.namespace ?? 'default';
  if (!NAMESPACE.test(namespace)) {
    throw usageError(`invalid namespace ${JSON.stringify(namespace)}: a namespace is at most 63 lowercase letters, digits and "-"`);
  }
  return { kc, contextName, cluster, user, namespace, source };
}

export const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** client-node refuses plain HTTP unless TLS verification is explicitly skipped; say so before any request. */
function checkServer(cluster: Cluster, source: string): void {
  let url: URL | undefined;
  try {
    url = new URL(cluster.server);
  } catch {
    url = undefined;
  }
  if (url === undefined || !['https:', 'http:'].includes(url.protocol)) {
    throw usageError(`cluster "${cluster.name}" in ${source} has server ${JSON.stringify(cluster.server)}, which is not an http(s) URL`);
  }
  if (url.protocol === 'http:' && !cluster.skipTLSVerify) {
    throw usageError(
      `cluster "${cluster.name}" in ${source} uses plain http`,
      'use the https address, or set insecure-skip-tls-verify: true',
    );
  }
}

export function loadKubeConfig(flagPath: string | undefined, env: NodeJS.ProcessEnv): { kc: KubeConfig; source: string } {
  if (flagPath !== undefined) {
    if (!existsSync(flagPath)) throw usageError(`kubeconfig ${flagPath} does not exist`, 'check the --kubeconfig path');
    return { kc: mergeFiles([flagPath]), source: `kubeconfig ${flagPath}` };
  }
  const fromEnv = (env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p !== '');
  if (fromEnv.length > 0) {
    const present = fromEnv.filter((p) => existsSync(p));
    if (present.length === 0) throw usageError(`none of the kubeconfig files in KUBECONFIG exist: ${fromEnv.join(', ')}`);
    return { kc: mergeFiles(present), source: `kubeconfig ${present.join(path.delimiter)}` };
  }
  const home = path.join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return { kc: mergeFiles([home]), source: `kubeconfig ${home}` };
  if (env.KUBERNETES_SERVICE_HOST && existsSync(path.join(SERVICE_ACCOUNT_DIR, 'token'))) {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return { kc, source: 'the in-cluster service account' };
  }
  throw usageError(
    'no kubeconfig found: neither --kubeconfig, KUBECONFIG, ~/.kube/config nor an in-cluster service account',
    'point --kubeconfig or KUBECONFIG at a kubeconfig file',
  );
}

/** Merges kubeconfig files the way kubectl does: the first file to define a name or the current context wins. */
function mergeFiles(files: string[]): KubeConfig {
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext = '';
  for (const file of files) {
    const one = loadFile(file);
    for (const c of one.clusters) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of one.users) if (!users.has(u.name)) users.set(u.name, u);
    for (const c of one.contexts) if (!contexts.has(c.name)) contexts.set(c.name, c);
    currentContext ||= one.currentContext ?? '';
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()],
    currentContext,
  });
  return kc;
}

function loadFile(file: string): KubeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read kubeconfig ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (text.trim() === '') throw usageError(`kubeconfig ${file} is empty`, 'point --kubeconfig at a kubeconfig file');
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw usageError(`kubeconfig ${file} is not a valid kubeconfig: ${firstLine(err)}`);
  }
  return kc;
}

function selectContext(kc: KubeConfig, name: string, source: string): void {
  if (!kc.getContextObject(name)) {
    const known = kc.getContexts().map((c) => c.name);
    throw new CliError(ExitCode.Usage, `context "${name}" not found in ${source}`, {
      hint: known.length > 0 ? `known contexts: ${known.join(', ')}` : 'the kubeconfig defines no contexts',
    });
  }
  kc.setCurrentContext(name);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n', 1)[0] ?? message;
}
