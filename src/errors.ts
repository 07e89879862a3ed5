/** Exit codes are part of the interface: scripts test them, the README documents them. */
export const ExitCode = {
  Ok: 0,
  Internal: 1,
  Usage: 2,
  Cluster: 3,
  CrdMissing: 4,
  Timeout: 5,
  /** stdout could not be written: a full disk, an I/O error, or a closed pipe while work was left undone. */
  Output: 6,
  Interrupted: 130,
  Terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An expected failure: one line for the user and the exit code that classifies it. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;

  constructor(exitCode: ExitCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = options?.hint;
  }
}

export function usageError(message: string, hint?: string): CliError {
  return new CliError(ExitCode.Usage, message, hint === undefined ? undefined : { hint });
}
