// 5. Applying a file of members: member-watch apply-member -f against kubectl apply -f, each into a fresh namespace.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchCluster } from './cluster.js';
import { GROUP } from './cluster.js';
import { cli, KUBECTL, median, progress, timeProcess } from './lib.js';

export interface ApplyResult {
  members: number;
  memberWatch: number;
  kubectl: number;
}

function manifest(count: number): string {
  const docs = Array.from(
    { length: count },
    (_, i) => `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: applied-${i}\nspec:\n  memberOf: team-${i % 10}\n`,
  );
  return docs.join('---\n');
}

export async function measureApply(cluster: BenchCluster, count: number, runs: number): Promise<ApplyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'member-watch-bench-'));
  const file = join(dir, 'members.yaml');
  writeFileSync(file, manifest(count));
  const mine: number[] = [];
  const theirs: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const ours = await cluster.newNamespace('apply-mw');
      const kubectls = await cluster.newNamespace('apply-kubectl');
      // alternate who goes first: the API server's state (etcd size, caches) grows with every run
      const jobs = [
        async (): Promise<void> => void mine.push(await timeProcess(cli([...cluster.cliFlags, '-n', ours, 'apply-member', '-f', file]))),
        async (): Promise<void> =>
          void theirs.push(
            await timeProcess({ file: KUBECTL, args: ['--kubeconfig', cluster.cp.kubeconfig, '-n', kubectls, 'apply', '-f', file] }),
          ),
      ];
      if (run % 2 === 1) jobs.reverse();
      for (const job of jobs) await job();
      progress(`apply ${count} run ${run + 1}: member-watch ${mine[run]?.toFixed(0)} ms, kubectl ${theirs[run]?.toFixed(0)} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { members: count, memberWatch: median(mine), kubectl: median(theirs) };
}
