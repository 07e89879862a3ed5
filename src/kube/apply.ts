import { CliError, ExitCode } from '../errors.js';
import { type Change, changedPaths } from './diff.js';
import type { Kube } from './client.js';
import type { Operation } from './errors.js';
import { failedBeforeSending } from './failures.js';
import { ApiError, NetworkError } from './http.js';

export type Outcome = 'created' | 'configured' | 'unchanged';

export interface Applied<T> {
  outcome: Outcome;
  /** What changed (in a dry run: would change) in the parts that `comparable` picks. */
  changes: Change[];
  object: T;
}

export interface ApplyRequest<T> {
  op: Operation;
  path: string;
  manifest: object;
  fieldManager: string;
  dryRun: boolean;
  /** The parts of the object that the manifest sets: their difference decides "configured" or "unchanged". */
  comparable: (object: T) => unknown;
}

/**
 * Server-side apply of one object. The object is read first, because an apply answers 200 whether or
 * not anything changed and "unchanged" is what makes a second run reassuring. Conflicts are forced:
 * running the command is the user's explicit intent, as with `kubectl apply --server-side --force-conflicts`.
 */
export async function serverSideApply<T>(kube: Kube, req: ApplyRequest<T>): Promise<Applied<T>> {
  const before = await kube.find<T>({ ...req.op, verb: 'get' }, req.path);
  const object = await kube.call<T>(req.op, {
    method: 'PATCH',
    path: req.path,
    query: { fieldManager: req.fieldManager, force: true, dryRun: req.dryRun ? 'All' : undefined },
    body: req.manifest,
    contentType: 'application/apply-patch+yaml',
  });
  const changes = changedPaths(before === undefined ? undefined : req.comparable(before), req.comparable(object));
  const outcome: Outcome = before === undefined ? 'created' : changes.length > 0 ? 'configured' : 'unchanged';
  return { outcome, changes, object };
}

// Failures before a request reached the server: a refused connection, an unknown host, a certificate refused in
// the TLS handshake. Nothing can have changed.
const NEVER_SENT = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN)$|CERT|SSL|TLS|SIGNATURE|EPROTO/;

/**
 * Whether a write that failed may have changed the cluster all the same: it was cut off in flight, the connection
 * broke after the request went out, or the server answered 5xx (a 504 timeout can still be carried out). A
 * refusal (4xx) or a request never sent changed nothing. When in doubt, "may have": a report must not claim less.
 */
export function mayHaveChanged(err: unknown, cutOff?: AbortSignal): boolean {
  if (cutOff?.aborted === true) return true;
  const cause = err instanceof CliError && err.cause !== undefined ? err.cause : err;
  if (failedBeforeSending(err) || failedBeforeSending(cause)) return false;
  if (cause instanceof ApiError) return cause.status >= 500;
  if (cause instanceof NetworkError) return !NEVER_SENT.test(cause.code);
  return !(cause instanceof CliError && cause.exitCode === ExitCode.Usage);
}

/** A write that failed, as a report needs it. */
export interface WriteFailure {
  error: CliError;
  /** Cut off in flight, or failed after the request went out: the change may or may not have happened. */
  mayHaveChanged: boolean;
  /** Refused for this object alone (forbidden for its name, invalid): the others may well go through. */
  aboutTheObject: boolean;
}

export function writeFailure(error: CliError, raw: unknown, cutOff?: AbortSignal): WriteFailure {
  const refusal = raw instanceof ApiError && raw.objectName !== undefined && raw.status >= 400 && raw.status < 500;
  // 401 (credentials), 405 (the resource refuses the verb) and 429 (overload) are about the cluster, not the object.
  const aboutTheObject = refusal && ![401, 405, 429].includes(raw.status) && cutOff?.aborted !== true;
  return { error, mayHaveChanged: mayHaveChanged(raw, cutOff), aboutTheObject };
}
