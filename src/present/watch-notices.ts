import { ApiError, NetworkError } from '../kube/http.js';
import type { WatcherStatus } from '../watcher/events.js';
import { ClosedAtOnce } from '../watcher/watcher.js';

/** What a response stream cut mid-answer raises ("aborted", "read ECONNRESET"), in words. */
const LOST = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

const HTTP_WORDS: Record<number, string> = {
  429: 'the API server asks clients to slow down',
  500: 'the API server failed',
  502: 'a proxy in front of the API server failed',
  503: 'the API server is unavailable',
  504: 'a proxy in front of the API server timed out',
};

/**
 * Why a request failed, in words a person reads in a notice. The kube client words network failures (refused,
 * silence, a hung TLS handshake, a connection closed by the server): its message is kept. What the response stream
 * itself raises when the server crashes mid-watch is a lost connection here, never "aborted".
 */
export function describeFailure(err: Error): string {
  if (err instanceof ApiError) return describeHttp(err);
  if (err instanceof NetworkError || err instanceof ClosedAtOnce) return err.message;
  if (err instanceof SyntaxError) return 'the answer was cut off part-way';
  return LOST.has((err as NodeJS.ErrnoException).code ?? '') ? 'the connection to the API server was lost' : err.message;
}

function describeHttp(err: ApiError): string {
  const words = HTTP_WORDS[err.status] ?? 'the API server answered with an error';
  const said = err.message === '' || err.message === `HTTP ${err.status}` ? '' : `: ${err.message}`;
  return `${words} (HTTP ${err.status}${said})`;
}

/** "0.5 s" below a second, whole seconds above: "reconnecting in 9 s". */
export function formatDelay(ms: number): string {
  return ms < 1000 ? `${(Math.max(ms, 0) / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export const RELISTING = 'the API server no longer has the history to resume from: listing again to catch up';
export const SNAPSHOT_EXPIRED = 'the list took longer than the API server keeps its snapshot (the continue token expired): listing again';
export const WAITING_FOR_CRD = 'waiting for the Member CRD to be installed (member-watch install-crd)';

/** Something the API server sent that is not a readable member or watch event, and was skipped. */
export function skippedText(status: Extract<WatcherStatus, { kind: 'skipped' }>): string {
  return `skipped a ${status.what} the API server sent (${status.problem}): ${status.text}`;
}

/**
 * What has gone wrong since the watch was last live (failures, relists, a missing CRD, in any mix): the notice
 * that ends it says what came back. A watch that the server ends on time and that resumes at once had none.
 */
export class Outage {
  private watched = false;
  private seen: { network: boolean; crd: boolean } | undefined;

  /** A status other than live or skipped: an outage, once the watch has been live. */
  note(kind: WatcherStatus['kind']): void {
    if (!this.watched) return;
    this.seen ??= { network: false, crd: false };
    if (kind === 'reconnecting') this.seen.network = true;
    if (kind === 'waiting-for-crd') this.seen.crd = true;
  }

  /** The watch is live: what came back, in words; undefined the first time, and when nothing went wrong. */
  ended(where: string): string | undefined {
    this.watched = true;
    const seen = this.seen;
    this.seen = undefined;
    if (seen === undefined) return undefined;
    if (seen.crd) return `the Member CRD is installed again: watching members ${where}`;
    return seen.network ? 'reconnected' : 'caught up';
  }
}
