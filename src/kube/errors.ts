import { CliError, ExitCode } from '../errors.js';
import { CRD_NAME, RESOURCE } from '../members/resource.js';
import { ApiError, NetworkError } from './http.js';

/** What the failed request tried to do, so the message can say it. */
export interface Operation {
  verb: string;
  resource: string;
  namespace?: string | undefined;
}

export interface Endpoint {
  server: string;
  contextName: string;
  userName: string | undefined;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** The one place where a failed API call becomes a message and an exit code. */
export function explainFailure(err: unknown, op: Operation, at: Endpoint): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof NetworkError) return explainNetwork(err, at);
  if (err instanceof ApiError) return explainApi(err, op, at);
  return new CliError(ExitCode.Internal, err instanceof Error ? err.message : String(err), { cause: err });
}

function explainNetwork(err: NetworkError, at: Endpoint): CliError {
  if (TLS_CODES.has(err.code)) {
    return new CliError(ExitCode.Cluster, `TLS verification failed for ${at.server} (context ${at.contextName}): ${err.message}`, {
      hint: 'check certificate-authority-data or certificate-authority of the cluster in your kubeconfig',
      cause: err,
    });
  }
  return new CliError(
    ExitCode.Cluster,
    `cannot reach the API server at ${at.server} (context ${at.contextName}): ${describeNetworkCode(err)}`,
    {
      hint: 'check that the cluster is running and that the kubeconfig points at it',
      cause: err,
    },
  );
}

function describeNetworkCode(err: NetworkError): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return err.message;
  }
}

function explainApi(err: ApiError, op: Operation, at: Endpoint): CliError {
  const where = op.namespace === undefined ? '' : ` in namespace ${op.namespace}`;
  const who = at.userName === undefined ? 'the current user' : `user ${at.userName}`;
  switch (err.status) {
    case 404:
      if (err.objectName === undefined && op.resource === RESOURCE) return crdMissing(err);
      return new CliError(ExitCode.Cluster, `${op.verb} ${op.resource}${where}: ${err.message}`, { cause: err });
    case 401:
      return new CliError(ExitCode.Cluster, `unauthorized: ${at.server} rejected the credentials of ${who} (context ${at.contextName})`, {
        hint: 'the token or certificate is wrong or expired: log in again or fix the kubeconfig',
        cause: err,
      });
    case 403:
      return new CliError(ExitCode.Cluster, `forbidden: ${who} may not ${op.verb} ${op.resource}${where} (${err.message})`, {
        hint: `ask for a Role granting "${op.verb}" on ${op.resource}; the README has RBAC examples`,
        cause: err,
      });
    default:
      return new CliError(ExitCode.Cluster, `${op.verb} ${op.resource}${where} failed: ${err.message} (HTTP ${err.status})`, {
        cause: err,
      });
  }
}

export function crdMissing(cause?: unknown): CliError {
  return new CliError(ExitCode.CrdMissing, `the Member CRD (${CRD_NAME}) is not installed in this cluster`, {
    hint: 'run `member-watch install-crd`',
    cause,
  });
}
