import { setMaxListeners } from 'node:events';
import { CliError, ExitCode } from '../errors.js';
import type { WriteFailure } from '../kube/apply.js';
import { formatMs } from '../kube/poll.js';
import { tallyText, type WriteTally } from '../present/objects.js';
import { claimStdoutFailure, describeStdoutFailure, readerLeft } from '../present/stdout-failure.js';

/** Why a run stopped starting new changes. */
type Stop =
  /** A failure about one member: said where it happened, so the summary only says that the run stopped. */
  | { kind: 'member failure'; error: CliError }
  /** The cluster failed, the time limit passed, a signal came, stdout failed: the summary leads with it. */
  | { kind: 'cause'; error: CliError }
  /** The reader left (EPIPE): it matters only when work was left undone. */
  | { kind: 'reader left'; error: CliError };

/**
 * The life of a command that changes the cluster (apply-member, delete-member): what ends it early, and the rule
 * that every change it made is reported. Once it has failed it starts no new change; changes in flight are
 * waited for, so that their outcome is known, unless the time limit or a signal cuts them off.
 */
export class WriteRun {
  private readonly stopController = new AbortController();
  private readonly cutController = new AbortController();
  private why: Stop | undefined;
  private readonly cleanups: Array<() => void> = [];
  private clearTimeLimit: () => void = () => undefined;

  /** `timeLimitMs`: the whole command's limit; 0 or undefined leaves the requests to their own limits. */
  constructor(timeLimitMs: number | undefined) {
    // Every request in flight listens to the cut-off signal: more than the default ten is expected, not a leak.
    setMaxListeners(0, this.cutController.signal);
    if (timeLimitMs !== undefined && timeLimitMs > 0) {
      const timer = setTimeout(() => this.cut(new CliError(ExitCode.Timeout, `timed out after ${formatMs(timeLimitMs)}`)), timeLimitMs);
      this.clearTimeLimit = () => clearTimeout(timer);
      this.cleanups.push(this.clearTimeLimit);
    }
    for (const [signal, code] of [
      ['SIGINT', ExitCode.Interrupted],
      ['SIGTERM', ExitCode.Terminated],
    ] as const) {
      // Once: a second Ctrl-C ends the process at once, for someone who will not wait for requests in flight.
      const onSignal = (): void => this.cut(new CliError(code, `interrupted by ${signal}`));
      process.once(signal, onSignal);
      this.cleanups.push(() => process.off(signal, onSignal));
    }
    this.cleanups.push(
      claimStdoutFailure((err) => {
        const error = new CliError(ExitCode.Output, describeStdoutFailure(err));
        this.stop(readerLeft(err) ? { kind: 'reader left', error } : { kind: 'cause', error });
      }),
    );
  }

  /** Aborted when no new change may start. */
  get stopped(): AbortSignal {
    return this.stopController.signal;
  }

  /** Aborted when the requests in flight are cut off as well: their changes may or may not have happened. */
  get cutOff(): AbortSignal {
    return this.cutController.signal;
  }

  /** A failure stops the run (the first one gives the reason). */
  fail(failure: WriteFailure): void {
    this.stop({ kind: failure.aboutTheObject ? 'member failure' : 'cause', error: failure.error });
  }

  /**
   * The error that ends a run which did not do all it was asked, saying what was and was not done; undefined when
   * everything was done. `firstFailure`: a member's failure the run went on after (apply-member does).
   */
  summary(verb: 'applied' | 'deleted', tally: WriteTally, firstFailure?: WriteFailure): CliError | undefined {
    const undone = tally.notDone.length + tally.unknown.length > 0;
    const stop = this.why?.kind === 'reader left' && !undone ? undefined : this.why;
    const deciding = stop?.error ?? firstFailure?.error;
    if (deciding === undefined) return undefined;
    const headline = stop === undefined ? '' : stop.kind === 'member failure' ? 'stopped after a failure; ' : `${stop.error.message}; `;
    return new CliError(deciding.exitCode, `${headline}${tallyText(verb, tally)}`, { hint: deciding.hint, cause: deciding });
  }

  /**
   * The writes are over; what follows (--wait) keeps to the rest of the time limit by itself, checking at its
   * deadline rather than being cut off there. Signals still cut it short.
   */
  writesDone(): void {
    this.clearTimeLimit();
  }

  /** A request that failed because the run cut it off failed for the run's reason. */
  explainCut(err: unknown): unknown {
    return this.cutOff.aborted ? this.cutOff.reason : err;
  }

  finish(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  private stop(why: Stop): void {
    // The first reason stays, except that anything real replaces a reader that left.
    if (this.why === undefined || (this.why.kind === 'reader left' && why.kind !== 'reader left')) this.why = why;
    this.stopController.abort(why.error);
  }

  private cut(error: CliError): void {
    this.stop({ kind: 'cause', error });
    this.cutController.abort(error);
  }
}

/** A run of one member ends with that member's own error, or why it was cut off, saying whether it may have happened. */
export function singleFailure(summary: CliError, failure: WriteFailure | undefined, what: string): CliError {
  if (failure === undefined) return summary;
  if (!failure.mayHaveChanged) return failure.error;
  const stop = summary.cause instanceof CliError && summary.cause !== failure.error ? summary.cause : failure.error;
  return new CliError(stop.exitCode, `${stop.message}; ${what}`, { hint: stop.hint });
}

/** The line that says a failure about one member as it happens; a failure of the cluster is said once, at the end. */
export function failureLine(where: string, failure: WriteFailure): string | undefined {
  return failure.aboutTheObject ? `${where}: ${failure.error.message}` : undefined;
}
