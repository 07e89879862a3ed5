// 3. Live throughput: a watcher that is already live, while a driver creates members as fast as the API accepts them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchCluster } from './cluster.js';
import { cli, median, percentile, progress, spawnLines, waitForFile } from './lib.js';

export interface ThroughputResult {
  members: number;
  /** Members created per second by the driver (the API server's pace). */
  createRate: number;
  /** ADDED lines per second, from the first create sent to the last line. */
  eventRate: number;
  /** From the last create answered to the last line printed. */
  finalLag: number;
  /** Per member: from its create answered to its line printed. */
  lagP50: number;
  lagP99: number;
}

interface RunTimes {
  createdAt: Map<string, number>;
  printedAt: Map<string, number>;
  driveStart: number;
  driveEnd: number;
}

async function oneRun(cluster: BenchCluster, count: number): Promise<RunTimes> {
  const namespace = await cluster.newNamespace('live');
  const dir = mkdtempSync(join(tmpdir(), 'member-watch-bench-'));
  const readyFile = join(dir, 'ready');
  const printedAt = new Map<string, number>();
  const createdAt = new Map<string, number>();
  const args = [...cluster.cliFlags, '-n', namespace, 'watch', '-o', 'json', '--watch-only', '--ready-file', readyFile];
  const watcher = spawnLines(cli([...args, '--count', String(count)]), (line) => {
    const event = JSON.parse(line) as { name: string; type: string };
    if (event.type === 'ADDED') printedAt.set(event.name, performance.now());
  });
  try {
    await waitForFile(readyFile, 30_000);
    const driveStart = performance.now();
    await cluster.createMembers(namespace, count, { onCreated: (name) => createdAt.set(name, performance.now()) });
    const driveEnd = performance.now();
    await watcher.linesReached(count, 120_000);
    return { createdAt, printedAt, driveStart, driveEnd };
  } finally {
    await watcher.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarize(count: number, t: RunTimes): ThroughputResult {
  const lastLine = Math.max(...t.printedAt.values());
  const lags = [...t.createdAt].map(([name, at]) => (t.printedAt.get(name) ?? Number.NaN) - at);
  return {
    members: count,
    createRate: count / ((t.driveEnd - t.driveStart) / 1000),
    eventRate: count / ((lastLine - t.driveStart) / 1000),
    finalLag: lastLine - t.driveEnd,
    lagP50: percentile(lags, 50),
    lagP99: percentile(lags, 99),
  };
}

export async function measureThroughput(cluster: BenchCluster, count: number, runs: number): Promise<ThroughputResult> {
  const results: ThroughputResult[] = [];
  for (let run = 0; run < runs; run++) {
    const result = summarize(count, await oneRun(cluster, count));
    progress(
      `throughput M=${count} run ${run + 1}: ${result.eventRate.toFixed(0)} events/s, final lag ${result.finalLag.toFixed(0)} ms, p99 lag ${result.lagP99.toFixed(0)} ms`,
    );
    results.push(result);
  }
  const pick = (key: Exclude<keyof ThroughputResult, 'members'>): number => median(results.map((r) => r[key]));
  return {
    members: count,
    createRate: pick('createRate'),
    eventRate: pick('eventRate'),
    finalLag: pick('finalLag'),
    lagP50: pick('lagP50'),
    lagP99: pick('lagP99'),
  };
}
