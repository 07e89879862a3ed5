import { ApiError, NetworkError } from '../kube/http.js';

/** A failure that will be retried, in words for the log: the server's message and status, or the network error. */
export function describeFailure(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (HTTP ${err.status})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Whether a failed write may have been applied all the same: the request went out but no answer said what
 * became of it (connection lost, timed out, aborted, a gateway's 5xx). A 4xx answer, 429 included, says it was not.
 */
export function outcomeUnknown(err: unknown): boolean {
  if (err instanceof NetworkError && err.code === 'ECONNREFUSED') return false;
  return !(err instanceof ApiError) || err.status >= 500;
}

/** For a write the API server would not allow (401, 403): why, in words; undefined for any other outcome. */
export function writeRefused(err: unknown): string | undefined {
  return err instanceof ApiError && (err.status === 401 || err.status === 403) ? describeFailure(err) : undefined;
}
