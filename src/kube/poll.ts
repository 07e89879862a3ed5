import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, ExitCode } from '../errors.js';

/**
 * Checks until `done` says yes or the time is up (exit 5, naming what was awaited).
 * A timeout of 0 waits without limit.
 */
export async function pollUntil(what: string, done: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
  for (;;) {
    if (await done()) return;
    if (Date.now() + intervalMs > deadline) {
      throw new CliError(ExitCode.Timeout, `timed out after ${formatMs(timeoutMs)} waiting for ${what}`);
    }
    await sleep(intervalMs);
  }
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
