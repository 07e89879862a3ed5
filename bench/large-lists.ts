// 9. Large objects: peak RSS of the commands that read every member (check, release-finalizers, delete-member --all)
// over N members of about 100 KB each, against `watch` greeting the same N and `kubectl get members -o name` in the
// same run. Their memory must follow what they keep of each member, not the size of the objects.
import { type BenchCluster } from './cluster.js';
import { cli, KUBECTL, median, peakRssKiB, progress } from './lib.js';

export interface LargeListResult {
  members: number;
  paddingKiB: number;
  /** Peak RSS in KiB, median of the runs (delete-member --all: one run, it empties the namespace). */
  check: number;
  releaseFinalizers: number;
  deleteAll: number;
  watch: number;
  kubectl: number;
}

export async function measureLargeLists(cluster: BenchCluster, count: number, paddingKiB: number, runs: number): Promise<LargeListResult> {
  const namespace = await cluster.newNamespace('large');
  progress(`creating ${count} members of ${paddingKiB} KiB`);
  await cluster.createMembers(namespace, count, { paddingBytes: paddingKiB * 1024 });
  const ns = [...cluster.cliFlags, '-n', namespace];
  const runsOf = async (what: string, args: string[], file?: string): Promise<number> => {
    const peaks: number[] = [];
    for (let run = 0; run < runs; run++) {
      peaks.push(await peakRssKiB(file === undefined ? cli(args) : { file, args }));
      progress(`large lists N=${count}: ${what} run ${run + 1}: ${peaks[run]} KiB`);
    }
    return median(peaks);
  };
  const result = {
    members: count,
    paddingKiB,
    watch: await runsOf('watch', [...ns, 'watch', '--count', String(count), '-o', 'json']),
    check: await runsOf('check', [...ns, 'check']),
    releaseFinalizers: await runsOf('release-finalizers', [...ns, 'release-finalizers']),
    kubectl: await runsOf('kubectl get', ['--kubeconfig', cluster.cp.kubeconfig, '-n', namespace, 'get', 'members', '-o', 'name'], KUBECTL),
    deleteAll: 0,
  };
  result.deleteAll = await peakRssKiB(cli([...ns, 'delete-member', '--all']));
  progress(`large lists N=${count}: delete-member --all: ${result.deleteAll} KiB`);
  return result;
}
