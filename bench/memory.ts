// 4. Memory: peak RSS of a watcher that greets N members, against a bare node holding N {name, team} in a Map.
import { join } from 'node:path';
import { type BenchCluster, type Scope, scopeFlags } from './cluster.js';
import { cli, median, peakRssKiB, progress, REPO_ROOT } from './lib.js';

export interface MemoryResult {
  members: number;
  /** KiB */
  watcher: number;
  baselineMap: number;
  bareNode: number;
}

const BASELINE = join(REPO_ROOT, 'bench', 'baseline-map.mjs');

/** Reuses the greeting's scope, which already holds `count` members. */
export async function measureMemory(cluster: BenchCluster, scope: Scope, count: number, runs: number): Promise<MemoryResult> {
  const watcher: number[] = [];
  const baseline: number[] = [];
  const bare: number[] = [];
  const watch = cli([...cluster.cliFlags, 'watch', ...scopeFlags(scope), '--count', String(count), '-o', 'json']);
  for (let run = 0; run < runs; run++) {
    watcher.push(await peakRssKiB(watch));
    baseline.push(await peakRssKiB({ file: process.execPath, args: [BASELINE, String(count)] }));
    bare.push(await peakRssKiB({ file: process.execPath, args: ['-e', '0'] }));
    progress(
      `memory N=${count} run ${run + 1}: watcher ${watcher[run]} KiB, Map baseline ${baseline[run]} KiB, node -e 0 ${bare[run]} KiB`,
    );
  }
  return { members: count, watcher: median(watcher), baselineMap: median(baseline), bareNode: median(bare) };
}
