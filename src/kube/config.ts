import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { CliError, ExitCode, usageError } from '../errors.js';
import { type ClusterConfig, type ContextConfig, type Kubeconfig, readKubeconfig, type UserConfig } from './kubeconfig.js';
import { namespaceProblem } from './namespace.js';

export type { ClusterConfig, UserConfig } from './kubeconfig.js';

export interface ConnectionFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
}

/** Where requests go and as whom: what error messages need to name. */
export interface ResolvedConfig {
  contextName: string;
  cluster: ClusterConfig & { server: string };
  user: UserConfig | null;
  namespace: string;
  /** The context's own namespace, whatever -n says (the operator keeps its Lease there). */
  contextNamespace?: string | undefined;
  /** A short description of where the configuration came from, for messages. */
  source: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * kubectl's order: --kubeconfig, then $KUBECONFIG (several paths, first one to set a value wins,
 * missing files skipped), then ~/.kube/config, then the pod's service account.
 */
export function resolveConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const { config, source } = loadKubeConfig(flags.kubeconfig, env);
  const contextName = flags.context ?? config.currentContext;
  const context = pickContext(config, contextName, flags.context !== undefined, source);
  const cluster = config.clusters.find((c) => c.name === context.cluster);
  if (!cluster) {
    throw usageError(`context "${context.name}" in ${source} names cluster "${context.cluster}", which is not defined`);
  }
  const server = checkServer(cluster, source);
  const user = context.user === undefined ? null : (config.users.find((u) => u.name === context.user) ?? null);
  if (context.user && !user) throw usageError(`context "${context.name}" in ${source} names user "${context.user}", which is not defined`);
  const namespace = flags.namespace ?? context.namespace ?? 'default';
  const invalid = namespaceProblem(namespace);
  if (invalid !== undefined) throw usageError(`invalid namespace ${JSON.stringify(namespace)}: ${invalid}`);
  return { contextName: context.name, cluster: { ...cluster, server }, user, namespace, contextNamespace: context.namespace, source };
}

function pickContext(config: Kubeconfig, name: string | undefined, fromFlag: boolean, source: string): ContextConfig {
  const context = name === undefined ? undefined : config.contexts.find((c) => c.name === name);
  if (context) return context;
  if (name === undefined) {
    throw usageError(`no current context in ${source}`, 'pass --context NAME or run `kubectl config use-context NAME`');
  }
  const known = config.contexts.map((c) => c.name);
  throw new CliError(
    ExitCode.Usage,
    fromFlag ? `context "${name}" not found in ${source}` : `current-context "${name}" is not defined in ${source}`,
    {
      hint: known.length > 0 ? `known contexts: ${known.join(', ')}` : 'the kubeconfig defines no contexts',
    },
  );
}

/** Plain HTTP is refused unless TLS verification is explicitly skipped, as client-node does; say so before any request. */
function checkServer(cluster: ClusterConfig, source: string): string {
  if (!cluster.server) throw usageError(`cluster "${cluster.name}" in ${source} has no server`);
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
  return cluster.server.replace(/\/+$/, '');
}

export function loadKubeConfig(flagPath: string | undefined, env: NodeJS.ProcessEnv): { config: Kubeconfig; source: string } {
  if (flagPath !== undefined) {
    if (!existsSync(flagPath)) throw usageError(`kubeconfig ${flagPath} does not exist`, 'check the --kubeconfig path');
    return { config: readKubeconfig(flagPath), source: `kubeconfig ${flagPath}` };
  }
  const fromEnv = (env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p !== '');
  if (fromEnv.length > 0) {
    const present = fromEnv.filter((p) => existsSync(p));
    if (present.length === 0) throw usageError(`none of the kubeconfig files in KUBECONFIG exist: ${fromEnv.join(', ')}`);
    return { config: mergeFiles(present), source: `kubeconfig ${present.join(path.delimiter)}` };
  }
  const home = path.join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return { config: readKubeconfig(home), source: `kubeconfig ${home}` };
  const inCluster = inClusterConfig(env);
  if (inCluster) return { config: inCluster, source: 'the in-cluster service account' };
  throw usageError(
    'no kubeconfig found: neither --kubeconfig, KUBECONFIG, ~/.kube/config nor an in-cluster service account',
    'point --kubeconfig or KUBECONFIG at a kubeconfig file',
  );
}

/** Merges kubeconfig files the way kubectl does: the first file to define a name or the current context wins. */
function mergeFiles(files: string[]): Kubeconfig {
  const merged: Kubeconfig = { clusters: [], users: [], contexts: [], currentContext: undefined };
  for (const one of files.map(readKubeconfig)) {
    const add = <T extends { name: string }>(into: T[], from: T[]): void => {
      for (const entry of from) if (!into.some((e) => e.name === entry.name)) into.push(entry);
    };
    add(merged.clusters, one.clusters);
    add(merged.users, one.users);
    add(merged.contexts, one.contexts);
    merged.currentContext ??= one.currentContext;
  }
  return merged;
}

/** What client-go's rest.InClusterConfig reads: the service's address from the environment, the rest from the mounted files. */
function inClusterConfig(env: NodeJS.ProcessEnv): Kubeconfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenFile = path.join(SERVICE_ACCOUNT_DIR, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  const namespaceFile = path.join(SERVICE_ACCOUNT_DIR, 'namespace');
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
  const server = `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  // Messages name the identity the API server sees, which the token says, rather than a made-up user name.
  const user = serviceAccountName(readFileSync(tokenFile, 'utf8')) ?? 'the service account of this pod';
  return {
    clusters: [{ name: 'in-cluster', server, caFile: path.join(SERVICE_ACCOUNT_DIR, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: user, tokenFile, impersonateGroups: [] }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user, namespace: namespace || undefined }],
    currentContext: 'in-cluster',
  };
}

interface ServiceAccountClaims {
  sub?: unknown;
  'kubernetes.io'?: { namespace?: unknown; serviceaccount?: { name?: unknown } };
  'kubernetes.io/serviceaccount/namespace'?: unknown;
  'kubernetes.io/serviceaccount/service-account.name'?: unknown;
}

/**
 * `system:serviceaccount:NS:NAME` from a service account token's claims (bound tokens and the older secret-based
 * ones both carry it), or undefined when the token is not a readable JWT. The signature is the server's business.
 */
export function serviceAccountName(token: string): string | undefined {
  let claims: ServiceAccountClaims;
  try {
    claims = JSON.parse(Buffer.from(token.trim().split('.')[1] ?? '', 'base64url').toString('utf8')) as ServiceAccountClaims;
  } catch {
    return undefined;
  }
  if (typeof claims.sub === 'string' && /^system:serviceaccount:[^:]+:[^:]+$/.test(claims.sub)) return claims.sub;
  const bound = claims['kubernetes.io'];
  const namespace = bound?.namespace ?? claims['kubernetes.io/serviceaccount/namespace'];
  const name = bound?.serviceaccount?.name ?? claims['kubernetes.io/serviceaccount/service-account.name'];
  return typeof namespace === 'string' && typeof name === 'string' ? `system:serviceaccount:${namespace}:${name}` : undefined;
}
