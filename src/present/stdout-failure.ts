import type { Writable } from 'node:stream';
import { whenReaderLeaves } from './reader-poll.js';

/**
 * stdout failing under a command: EPIPE when the reader left (`| head -1`), ENOSPC on a full disk
 * (`> /dev/full`), EIO. Only the first error counts: a stream that failed is destroyed and says nothing more.
 *
 * A command that changes the cluster claims the failure while it works, so that it can stop starting new
 * changes and say on stderr what was and was not done; for any other command `unclaimed` decides.
 */
let failure: NodeJS.ErrnoException | undefined;
let watched: (Writable & { fd?: number }) | undefined;
const claims = new Set<(err: NodeJS.ErrnoException) => void>();

export function watchStdout(stdout: Writable, unclaimed: (err: NodeJS.ErrnoException) => void): void {
  watched = stdout;
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (failure !== undefined) return;
    failure = err;
    if (claims.size === 0) unclaimed(err);
    for (const claim of claims) claim(err);
  });
}

let following = false;

/**
 * For a command whose output goes on (watch, the operator, a run of changes): a reader that leaves is noticed when
 * it leaves, as the EPIPE its next write would have met, and not only at that write, which may never come.
 */
export function followReader(): void {
  const stdout = watched;
  if (following || stdout === undefined) return;
  following = true;
  const readerGone = Object.assign(new Error('the reader closed the pipe'), { code: 'EPIPE', syscall: 'poll' });
  void whenReaderLeaves(stdout.fd ?? 1, () => stdout.destroy(readerGone));
}

/** While claimed, a failing stdout is the caller's to handle (the caller streams: its reader is followed). Returns the release. */
export function claimStdoutFailure(onFailure: (err: NodeJS.ErrnoException) => void): () => void {
  followReader();
  claims.add(onFailure);
  if (failure !== undefined) onFailure(failure);
  return () => claims.delete(onFailure);
}

/** A reader that left is not a failure of the output itself: there is only nobody to read it any more. */
export function readerLeft(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPIPE';
}

const REASONS: Record<string, string> = {
  EPIPE: 'the reader closed the pipe',
  ENOSPC: 'no space left on device',
  EIO: 'input/output error',
  EBADF: 'stdout is closed',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
};

export function describeStdoutFailure(err: NodeJS.ErrnoException): string {
  const reason = err.code === undefined ? err.message : `${REASONS[err.code] ?? err.message} (${err.code})`;
  return `cannot write to stdout: ${reason}`;
}
