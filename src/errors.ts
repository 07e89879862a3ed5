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

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'it is a folder, not a file',
  ERR_FS_EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of its path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  EIO: 'an I/O error',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
};

/** Why a file could not be read or written, in words (`permission denied`), not as a bare error code. */
export function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code !== undefined && code in FILE_PROBLEMS) return FILE_PROBLEMS[code] ?? code;
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** `file F does not exist`, or `cannot read F: permission denied`. */
export function unreadableFile(file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' ? `file ${file} does not exist` : `cannot read ${file}: ${fileProblem(err)}`;
}
