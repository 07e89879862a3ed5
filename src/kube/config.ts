import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { CliError, ExitCode, usageError } from '../errors.js';
import {
  type ClusterConfig,
  type ContextConfig,
  EMPTY_KUBECONFIG,
  type Kubeconfig,
  readKubeconfig,
  type UserConfig,
} from './kubeconfig.js';
import { namespaceProblem } from './namespace.js';
import { checkUsable } from './usable.js';

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
  /**
   * The namespace kubectl would use without -n: the context's, else inside a pod POD_NAMESPACE or the service
   * account's, else default (the operator keeps its Lease there).
   */
  defaultNamespace: string;
  /** A short description of where the configuration came from, for messages. */
  source: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * kubectl's order: --kubeconfig, then $KUBECONFIG (several paths, first one to set a value wins, missing files
 * skipped), then ~/.kube/config. Inside a pod, when those select no context (no file, empty files, no
 * current-context), the pod's service account; and a context without a namespace means the pod's namespace.
 * Empty --context and -n are unset, as for kubectl.
 */
export function resolveConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const pod = inClusterPossible(env);
  const { config, source, context } = selectContext(flags, loadKubeConfig(flags.kubeconfig, env), pod, env);
  const cluster = config.clusters.find((c) => c.name === context.cluster);
  if (!cluster) {
    throw usageError(`context "${context.name}" in ${source} names cluster "${context.cluster}", which is not defined`);
  }
  const server = checkServer(cluster, source);
  const user = context.user === undefined ? null : (config.users.find((u) => u.name === context.user) ?? null);
  if (context.user && !user) throw usageError(`context "${context.name}" in ${source} names user "${context.user}", which is not defined`);
  checkUsable(cluster, user, source);
  const defaultNamespace = context.namespace ?? (pod ? podNamespace(env) : 'default');
  const namespace = flags.namespace || defaultNamespace;
  const invalid = namespaceProblem(namespace);
  if (invalid !== undefined) throw usageError(`invalid namespace ${JSON.stringify(namespace)}: ${invalid}`);
  return { contextName: context.name, cluster: { ...cluster, server }, user, namespace, defaultNamespace, source };
}

/** The context --context or the files name; in a pod, the service account's when they name none. */
function selectContext(
  flags: ConnectionFlags,
  loaded: LoadedKubeconfig,
  pod: boolean,
  env: NodeJS.ProcessEnv,
): { config: Kubeconfig; source: string; context: ContextConfig } {
  const name = flags.context || loaded.config.currentContext;
  if (name === undefined && pod) {
    const config = inClusterConfig(env);
    return { config, source: 'the in-cluster service account', context: pickContext(config, IN_CLUSTER, false, '') };
  }
  if (name === undefined && loaded.nothing !== undefined) throw loaded.nothing;
  return { ...loaded, context: pickContext(loaded.config, name, Boolean(flags.context), loaded.source) };
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

/** An https or http URL; over plain http no credentials are sent (see Credentials), as kubectl does for `kubectl proxy`. */
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
  return cluster.server.replace(/\/+$/, '');
}

export interface LoadedKubeconfig {
  config: Kubeconfig;
  source: string;
  /** Why nothing can be used when the files select no context and no pod's service account stands in. */
  nothing?: CliError | undefined;
}

export function loadKubeConfig(flagPath: string | undefined, env: NodeJS.ProcessEnv): LoadedKubeconfig {
  if (flagPath) {
    if (!existsSync(flagPath)) throw usageError(`kubeconfig ${flagPath} does not exist`, 'check the --kubeconfig path');
    return loaded([flagPath]);
  }
  const fromEnv = (env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p !== '');
  if (fromEnv.length > 0) {
    const present = fromEnv.filter((p) => existsSync(p));
    if (present.length > 0) return loaded(present);
    return {
      config: EMPTY_KUBECONFIG,
      source: 'KUBECONFIG',
      nothing: usageError(`none of the kubeconfig files in KUBECONFIG exist: ${fromEnv.join(', ')}`),
    };
  }
  const home = path.join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return loaded([home]);
  return {
    config: EMPTY_KUBECONFIG,
    source: 'no kubeconfig',
    nothing: usageError(
      'no kubeconfig found: neither --kubeconfig, KUBECONFIG, ~/.kube/config nor an in-cluster service account',
      'point --kubeconfig or KUBECONFIG at a kubeconfig file',
    ),
  };
}

/** Merges kubeconfig files the way kubectl does: the first file to define a name or the current context wins. */
function loaded(files: string[]): LoadedKubeconfig {
  const configs = files.map(readKubeconfig);
  const source = `kubeconfig ${files.join(path.delimiter)}`;
  const merged: Kubeconfig = { clusters: [], users: [], contexts: [], currentContext: undefined };
  for (const one of configs) {
    const add = <T extends { name: string }>(into: T[], from: T[]): void => {
      for (const entry of from) if (!into.some((e) => e.name === entry.name)) into.push(entry);
    };
    add(merged.clusters, one.clusters);
    add(merged.users, one.users);
    add(merged.contexts, one.contexts);
    merged.currentContext ??= one.currentContext;
  }
  const empty = configs.every((c) => c === EMPTY_KUBECONFIG);
  return {
    config: merged,
    source,
    nothing: empty ? usageError(`${source} is empty`, 'point --kubeconfig or KUBECONFIG at a kubeconfig file') : undefined,
  };
}

const IN_CLUSTER = 'in-cluster';
const TOKEN_FILE = path.join(SERVICE_ACCOUNT_DIR, 'token');

/** client-go's test for running in a pod: the `kubernetes` service's address in the environment, a token mounted. */
function inClusterPossible(env: NodeJS.ProcessEnv): boolean {
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) return false;
  try {
    return !statSync(TOKEN_FILE).isDirectory();
  } catch {
    return false;
  }
}

/** The pod's namespace as kubectl finds it: POD_NAMESPACE (the downward API), else the service account's, else default. */
function podNamespace(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(path.join(SERVICE_ACCOUNT_DIR, 'namespace'), 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

/** What client-go's rest.InClusterConfig reads: the service's address from the environment, the rest from the mounted files. */
function inClusterConfig(env: NodeJS.ProcessEnv): Kubeconfig {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const server = `https://${net.isIPv6(host) ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? ''}`;
  // Messages name the identity the API server sees, which the token says, rather than a made-up user name.
  let token = '';
  try {
    token = readFileSync(TOKEN_FILE, 'utf8');
  } catch {
    // unreadable: the token file's own check says so before any request
  }
  const user = serviceAccountName(token) ?? 'the service account of this pod';
  return {
    clusters: [{ name: IN_CLUSTER, server, caFile: path.join(SERVICE_ACCOUNT_DIR, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: user, tokenFile: TOKEN_FILE, impersonateGroups: [], impersonateExtra: {} }],
    contexts: [{ name: IN_CLUSTER, cluster: IN_CLUSTER, user }],
    currentContext: IN_CLUSTER,
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
