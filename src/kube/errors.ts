import { CliError, ExitCode } from '../errors.js';
import { ApiError, isTlsFailure, NetworkError, toNetworkError, UnexpectedAnswer } from './failures.js';

/** What the failed request tried to do, so the message can say it. */
export interface Operation {
  verb: string;
  resource: string;
  /** Undefined for cluster-scoped resources and for requests across all namespaces. */
  namespace?: string | undefined;
  /** The CRD that serves the resource, if one does: a 404 for the type itself then says it is not installed. */
  crd?: CrdRef | undefined;
}

export interface CrdRef {
  name: string;
  kind: string;
}

export interface Endpoint {
  server: string;
  contextName: string;
  userName: string | undefined;
  /** The kubeconfig's `as`: whom requests impersonate. */
  impersonating?: string | undefined;
}

/**
 * Whether trying the same request again later can succeed: the connection was refused, reset, cut or timed out,
 * the server is overloaded or restarting (429, 5xx). Everything else is final, at the start as after a
 * reconnect: TLS verification and handshake failures, local configuration (missing files, plugins), failing
 * credentials, answers that are not from a Kubernetes API server (HTML, other JSON, redirects), and other 4xx.
 */
export function isTransient(err: unknown): err is Error {
  if (err instanceof ApiError) return err.status === 408 || err.status === 429 || err.status >= 500;
  if (err instanceof CliError || err instanceof UnexpectedAnswer || err instanceof SyntaxError) return false;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (!(err instanceof Error) || typeof code !== 'string') return false;
  return !isTlsFailure(code) && code !== 'PROXY_REFUSED';
}

/** The one place where a failed API call becomes a message and an exit code. */
export function explainFailure(err: unknown, op: Operation, at: Endpoint): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ApiError) return explainApi(err, op, at);
  if (err instanceof UnexpectedAnswer || err instanceof SyntaxError) return explainAnswer(err, at);
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (err instanceof Error && typeof code === 'string') return explainNetwork(toNetworkError(err, hostOf(at.server)), at);
  return new CliError(ExitCode.Internal, err instanceof Error ? err.message : String(err), { cause: err });
}

function explainNetwork(err: NetworkError, at: Endpoint): CliError {
  if (isTlsFailure(err.code)) {
    return new CliError(ExitCode.Cluster, `TLS verification failed for ${at.server} (context ${at.contextName}): ${err.message}`, {
      hint:
        err.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? 'check the server address, or set tls-server-name to a name the certificate carries'
          : 'check certificate-authority-data or certificate-authority of the cluster in your kubeconfig',
      cause: err,
    });
  }
  return new CliError(ExitCode.Cluster, `cannot reach the API server at ${at.server} (context ${at.contextName}): ${err.message}`, {
    hint: 'check that the cluster is running and that the kubeconfig points at it',
    cause: err,
  });
}

/** Something answered, but not as a Kubernetes API server does. */
function explainAnswer(err: UnexpectedAnswer | SyntaxError, at: Endpoint): CliError {
  const what = err instanceof UnexpectedAnswer ? err.message : `malformed JSON (${err.message})`;
  return new CliError(ExitCode.Cluster, `the API server at ${at.server} (context ${at.contextName}) answered with ${what}`, {
    hint: 'a Kubernetes API server does not answer like this: check the server address in the kubeconfig, and whether a proxy or login page is in the way',
    cause: err,
  });
}

// The RBAC authorizer's wording: `User "alice" cannot list resource "members" in API group "..." in the namespace "x"`.
const RBAC_DENIAL = /User "([^"]*)" cannot (\S+) resource/;

function explainApi(err: ApiError, op: Operation, at: Endpoint): CliError {
  if (op.crd !== undefined && isCrdTerminating(err)) return crdTerminating(op.crd, undefined, err);
  const verb = err.verb ?? op.verb;
  const where = op.namespace === undefined ? '' : ` in namespace ${op.namespace}`;
  const who = at.userName === undefined ? 'the current user' : `user ${at.userName}`;
  switch (err.status) {
    case 404:
      if (err.objectName === undefined && op.crd !== undefined) return crdMissing(op.crd, err);
      return new CliError(ExitCode.Cluster, `${verb} ${op.resource}${where}: ${err.message}`, { cause: err });
    case 401:
      return new CliError(ExitCode.Cluster, `unauthorized: ${at.server} rejected the credentials of ${who} (context ${at.contextName})`, {
        hint: 'the token or certificate is wrong or expired: log in again or fix the kubeconfig',
        cause: err,
      });
    case 403:
      return forbidden(err, { ...op, verb }, who, at);
    default:
      return new CliError(ExitCode.Cluster, `${verb} ${op.resource}${where} failed: ${err.message} (HTTP ${err.status})`, {
        cause: err,
      });
  }
}

/**
 * Names the identity the server saw and the verb it refused, both from its own message when it is an RBAC
 * denial (the kubeconfig's user name may not be who the server thinks it is), and the kind of role to ask for.
 */
function forbidden(err: ApiError, op: Operation, who: string, at: Endpoint): CliError {
  const impersonation = impersonationDenied(err, at);
  if (impersonation !== undefined) return impersonation;
  const where = op.namespace === undefined ? '' : ` in namespace ${op.namespace}`;
  const denial = RBAC_DENIAL.exec(err.message);
  if (!denial) return new CliError(ExitCode.Cluster, `forbidden: ${op.verb} ${op.resource}${where}: ${err.message}`, { cause: err });
  const user = denial[1] === '' ? who : `user ${denial[1] ?? ''}`;
  const verb = denial[2] ?? op.verb;
  const role =
    op.namespace === undefined
      ? `a ClusterRole granting "${verb}" on ${op.resource}, bound with a ClusterRoleBinding`
      : `a Role in namespace ${op.namespace} granting "${verb}" on ${op.resource}, bound with a RoleBinding`;
  return new CliError(ExitCode.Cluster, `forbidden: ${user} may not ${verb} ${op.resource}${where} (${err.message})`, {
    hint: `ask for ${role}; docs/rbac.md has examples`,
    cause: err,
  });
}

// The impersonation filter's wording, before any RBAC check of the request itself:
// `users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`.
const IMPERSONATION_DENIAL = /^(\S+) "([^"]*)" is forbidden: User "([^"]*)" cannot impersonate resource "([^"]+)"/;
// Servers with constrained impersonation (1.35 on) name the verb to be done as the other user instead:
// `... is forbidden: User "alice" cannot impersonate-on:user-info:delete resource "members" ...`.
const CONSTRAINED_DENIAL = /User "([^"]*)" cannot impersonate-on:/;
const IMPERSONATED: Record<string, { what: string; field: string }> = {
  users: { what: 'the user', field: 'as' },
  serviceaccounts: { what: 'the service account', field: 'as' },
  groups: { what: 'the group', field: 'as-groups' },
  uids: { what: 'the uid', field: 'as-uid' },
};

/** A kubeconfig's `as` (or its groups, uid, extras) that the real user may not take on: said as such, not as RBAC on the request. */
function impersonationDenied(err: ApiError, at: Endpoint): CliError | undefined {
  const legacy = IMPERSONATION_DENIAL.exec(err.message);
  const constrained = legacy ? null : CONSTRAINED_DENIAL.exec(err.message);
  if (legacy) {
    const [, , name = '', user = '', resource = ''] = legacy;
    const extra = resource.startsWith('userextras/') ? resource.slice('userextras/'.length) : undefined;
    const denied =
      extra === undefined
        ? (IMPERSONATED[resource] ?? { what: resource, field: 'as' })
        : { what: `the extra ${extra}`, field: 'as-user-extra' };
    return impersonationError(err, user, { whom: `${denied.what} ${JSON.stringify(name)}`, field: denied.field, resource });
  }
  if (constrained && at.impersonating !== undefined) {
    return impersonationError(err, constrained[1] ?? '', {
      whom: `the user ${JSON.stringify(at.impersonating)}`,
      field: 'as',
      resource: 'users',
    });
  }
  return undefined;
}

function impersonationError(
  err: ApiError,
  user: string,
  { whom, field, resource }: { whom: string; field: string; resource: string },
): CliError {
  return new CliError(ExitCode.Cluster, `forbidden: user ${user} may not impersonate ${whom}, which ${field} in the kubeconfig asks for`, {
    hint: `ask for a ClusterRole granting "impersonate" on ${resource}, bound with a ClusterRoleBinding, or remove ${field} from the kubeconfig's user`,
    cause: err,
  });
}

export function crdMissing(crd: CrdRef, cause?: unknown): CliError {
  return new CliError(ExitCode.CrdMissing, `the ${crd.kind} CRD (${crd.name}) is not installed in this cluster`, {
    hint: 'run `member-watch install-crd`',
    cause,
  });
}

/**
 * While a CRD is being deleted the API server refuses to create its objects (updates pass): 405 MethodNotAllowed
 * up to 1.2x, 403 Forbidden on current servers, both "create not allowed while custom resource definition is
 * terminating". Either way the type is on its way out: exit 4, as for a CRD that is not installed.
 */
function isCrdTerminating(err: ApiError): boolean {
  return (err.status === 403 || err.status === 405) && /custom resource definition is terminating/i.test(err.message);
}

export function crdTerminating(crd: CrdRef, since?: string, cause?: unknown): CliError {
  const objects = crd.name.split('.')[0] ?? crd.name;
  return new CliError(
    ExitCode.CrdMissing,
    `the ${crd.kind} CRD (${crd.name}) is being deleted${since === undefined ? '' : ` (since ${since})`}: ${objects} written now would be deleted with it`,
    { hint: `wait until it is gone (\`kubectl get crd\` no longer lists it), then run \`member-watch install-crd\``, cause },
  );
}

function hostOf(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server;
  }
}
