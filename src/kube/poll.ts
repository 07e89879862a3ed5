import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, ExitCode } from '../errors.js';

/**
 * Checks until `done` says yes or the time is up (exit 5, naming what was awaited). A timeout of 0 checks
 * once, as kubectl's `--timeout=0` does; the last check happens at the deadline, never before it.
 */
export async function pollUntil(what: string, done: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new CliError(ExitCode.Timeout, `timed out after ${formatMs(timeoutMs)} waiting for ${what}`);
    await sleep(Math.min(intervalMs, left));
  }
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
