// 2. Initial greeting: time until the N-th line for N members that exist before the watch starts.
import { type BenchCluster, type Scope, scopeFlags } from './cluster.js';
import { cli, type Cmd, KUBECTL, median, progress, timeToLines } from './lib.js';

export interface GreetingResult {
  members: number;
  json: number;
  text: number;
  kubectl: number;
  curl: number;
}

type Tool = Exclude<keyof GreetingResult, 'members'>;
const TOOLS: readonly Tool[] = ['json', 'text', 'kubectl', 'curl'];

function commandFor(tool: Tool, cluster: BenchCluster, scope: Scope, count: number): Cmd {
  const { cp } = cluster;
  const watch = [...cluster.cliFlags, 'watch', ...scopeFlags(scope), '--count', String(count)];
  switch (tool) {
    case 'json':
      return cli([...watch, '-o', 'json']);
    case 'text':
      return cli(watch);
    case 'kubectl':
      return { file: KUBECTL, args: ['--kubeconfig', cp.kubeconfig, 'get', 'members', ...scopeFlags(scope), '-w', '-o', 'name'] };
    case 'curl':
      return {
        file: 'curl',
        args: ['-sN', '--cacert', cp.caFile, '-H', `Authorization: Bearer ${cp.adminToken}`, cluster.watchUrl(scope)],
      };
  }
}

/**
 * `scope` holds exactly `count` members.
 * The tools take turns in a rotating order, so none always runs first (or last) in a run. */
export async function measureGreeting(cluster: BenchCluster, scope: Scope, count: number, runs: number): Promise<GreetingResult> {
  const times: Record<Tool, number[]> = { json: [], text: [], kubectl: [], curl: [] };
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < TOOLS.length; k++) {
      const tool = TOOLS[(run + k) % TOOLS.length] as Tool;
      const elapsed = await timeToLines(commandFor(tool, cluster, scope, count), count);
      times[tool].push(elapsed);
      progress(`greeting N=${count} run ${run + 1}: ${tool} ${elapsed.toFixed(0)} ms`);
    }
  }
  return {
    members: count,
    json: median(times.json),
    text: median(times.text),
    kubectl: median(times.kubectl),
    curl: median(times.curl),
  };
}
