// 1. Cold start: the whole process for --help and --version, against a node that does nothing.
import { cli, type Cmd, median, progress, timeProcess } from './lib.js';

export interface StartupResult {
  help: number;
  version: number;
  bareNode: number;
}

const BARE_NODE: Cmd = { file: process.execPath, args: ['-e', '0'] };

/** Each run times all three back to back, so a noisy moment hits the peer as well. */
export async function measureStartup(runs: number): Promise<StartupResult> {
  const help: number[] = [];
  const version: number[] = [];
  const bare: number[] = [];
  // one untimed round warms the file system cache
  await timeProcess(cli(['--help']));
  for (let run = 0; run < runs; run++) {
    bare.push(await timeProcess(BARE_NODE));
    help.push(await timeProcess(cli(['--help'])));
    version.push(await timeProcess(cli(['--version'])));
  }
  progress(
    `startup: help ${median(help).toFixed(0)} ms, version ${median(version).toFixed(0)} ms, node -e 0 ${median(bare).toFixed(0)} ms`,
  );
  return { help: median(help), version: median(version), bareNode: median(bare) };
}
