import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, ExitCode } from '../errors.js';

export interface PollOptions {
  /** Time between checks (default 250 ms); the last wait is shortened so that the last check falls on the deadline. */
  intervalMs?: number;
  /** What still holds the wait, for the timeout message (e.g. the members not yet gone and their finalizers). */
  pending?: () => string | undefined;
  /** The limit the timeout message names, when this wait is the last part of a longer one (default: timeoutMs). */
  limitMs?: number;
  /** Ends the wait at once, throwing the signal's reason (Ctrl-C while waiting). */
  signal?: AbortSignal;
}

const DEFAULT_INTERVAL_MS = 250;

/**
 * Checks until `done` says yes or the time is up (exit 5, naming what was awaited and what still holds it).
 *
 * The contract, as `kubectl wait` has it: the first check happens at once; a limit of 0 (or anything that
 * rounds to 0 ms) checks exactly once; a limit below the interval is kept, because the last wait is cut short
 * so that a final check happens at the deadline. It never gives up before the deadline: it gives up only
 * after a check that started at or after it said no. A check is never cut short here; its requests carry
 * their own limits.
 */
export async function pollUntil(what: string, done: () => Promise<boolean>, timeoutMs: number, options: PollOptions = {}): Promise<void> {
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = performance.now() + Math.max(0, timeoutMs);
  for (;;) {
    options.signal?.throwIfAborted();
    const checkedAt = performance.now();
    if (await done()) return;
    if (checkedAt >= deadline) {
      const pending = options.pending?.();
      const suffix = pending === undefined || pending === '' ? '' : `; still pending: ${pending}`;
      throw new CliError(ExitCode.Timeout, `timed out after ${formatMs(options.limitMs ?? timeoutMs)} waiting for ${what}${suffix}`);
    }
    // Rounded up: a timer may fire up to a millisecond early, which would cost one check before the deadline.
    await sleep(Math.max(0, Math.ceil(Math.min(intervalMs, deadline - performance.now()))), undefined, { signal: options.signal }).catch(
      (err: unknown) => {
        options.signal?.throwIfAborted();
        throw err;
      },
    );
  }
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
