import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLI_PATH } from './cli.js';

/** The commands of this checkout on a PATH, linked as npm links them on install. */
export interface CommandsOnPath {
  /** PATH with the commands first, then the node running the tests (Node 20 or 24 in CI), then the rest. */
  readonly path: string;
  remove(): void;
}

export function commandsOnPath(): CommandsOnPath {
  const dir = mkdtempSync(join(tmpdir(), 'member-watch-bin-'));
  const bin = dirname(CLI_PATH);
  symlinkSync(CLI_PATH, join(dir, 'member-watch'));
  for (const name of ['kubectl-member_watch', 'kubectl_complete-member_watch']) symlinkSync(join(bin, name), join(dir, name));
  return {
    path: `${dir}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
