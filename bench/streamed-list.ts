// Streamed against paged lists (issue 17 item 8), on a server that streams lists: time until the N-th line of
// `member-watch watch --count N -o json` either way, against kubectl and curl, and how far each first list raises
// the resident memory of kube-apiserver (restarted before each measurement, so that no run inherits the heap an
// earlier one grew). npm run build && node --import tsx bench/streamed-list.ts [--members 5000,50000] [--runs 3]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';
import { type BenchCluster, GROUP, startBenchCluster } from './cluster.js';
import { cli, type Cmd, KUBECTL, median, memoryKiB, ms, progress, ratio, sleep, spawnLines, timeProcess } from './lib.js';

const TOOLS = ['streamed', 'paged', 'kubectl', 'curl stream', 'curl list'] as const;
type Tool = (typeof TOOLS)[number];

/** What each tool is, in the report. */
const SHOWN: Record<Tool, string> = {
  streamed: '`watch -o json`, streamed list (`KUBE_FEATURE_WatchListClient=true`)',
  paged: '`watch -o json`, paged list (`=false`, the default)',
  kubectl: '`kubectl get -w -o name`',
  'curl stream': '`curl` streamed list (`sendInitialEvents=true`)',
  'curl list': '`curl` whole list (`resourceVersion=0`), to its end',
};

interface Sample {
  /** ms from spawn to the N-th line (to the end, for the whole list). */
  time: number;
  /** KiB: kube-apiserver's peak RSS during the run, above its RSS just before. */
  rise: number;
  /** KiB: its RSS just before. */
  before: number;
  /** KiB its Go runtime allocated during the run (go_memstats_alloc_bytes_total), garbage included. */
  allocated: number;
}

const STREAM_QUERY = 'watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true';

function commandFor(tool: Tool, cluster: BenchCluster, namespace: string, count: number): Cmd {
  const { cp } = cluster;
  const watch = cli([...cluster.cliFlags, 'watch', '-n', namespace, '--count', String(count), '-o', 'json']);
  const members = `${cp.server}/apis/${GROUP}/v1/namespaces/${namespace}/members`;
  const curl = (url: string, flags: string): Cmd => ({
    file: 'curl',
    args: [flags, '--cacert', cp.caFile, '-H', `Authorization: Bearer ${cp.adminToken}`, '-o', '-', url],
  });
  switch (tool) {
    case 'streamed':
      return { ...watch, env: { KUBE_FEATURE_WatchListClient: 'true' } };
    case 'paged':
      return { ...watch, env: { KUBE_FEATURE_WatchListClient: 'false' } };
    case 'kubectl':
      return { file: KUBECTL, args: ['--kubeconfig', cp.kubeconfig, 'get', 'members', '-n', namespace, '-w', '-o', 'name'] };
    case 'curl stream':
      return curl(`${members}?${STREAM_QUERY}`, '-sN');
    case 'curl list':
      return curl(`${members}?resourceVersion=0`, '-s');
  }
}

/** kube-apiserver's pid, found by the port it serves: a new process after each restart. */
function apiserverPid(cluster: BenchCluster): number {
  const port = `--secure-port=${new URL(cluster.cp.server).port}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = readCmdline(entry);
    if (args[0]?.endsWith('kube-apiserver') && args.includes(port)) return Number(entry);
  }
  throw new Error('kube-apiserver is not running');
}

function readCmdline(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** kube-apiserver's go_memstats_alloc_bytes_total: bytes its heap ever allocated (reading /metrics adds its own). */
async function allocatedBytes(cluster: BenchCluster): Promise<number> {
  const text = await get(`${cluster.cp.server}/metrics`, cluster);
  const match = /^go_memstats_alloc_bytes_total (\S+)$/m.exec(text);
  if (match === null) throw new Error('kube-apiserver reports no go_memstats_alloc_bytes_total');
  return Number(match[1]);
}

function get(url: string, cluster: BenchCluster): Promise<string> {
  const { cp } = cluster;
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: readFileSync(cp.caFile), headers: { authorization: `Bearer ${cp.adminToken}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
  });
}

function status(url: string, cluster: BenchCluster): Promise<number> {
  const { cp } = cluster;
  return new Promise((resolve) => {
    const req = https.get(url, { ca: readFileSync(cp.caFile), headers: { authorization: `Bearer ${cp.adminToken}` } }, (res) => {
      res.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
}

/**
 * A fresh kube-apiserver whose watch cache holds the members again (a current server answers 429 until it does),
 * settled, with its peak RSS reset to the current one (/proc/PID/clear_refs 5).
 */
async function freshApiserver(cluster: BenchCluster, namespace: string): Promise<number> {
  await cluster.cp.stopApiserver();
  await cluster.cp.startApiserver();
  const members = `${cluster.cp.server}/apis/${GROUP}/v1/namespaces/${namespace}/members`;
  for (const url of [`${members}?resourceVersion=0&limit=1`, `${members}?${STREAM_QUERY}&timeoutSeconds=1`]) {
    while ((await status(url, cluster)) !== 200) await sleep(200);
  }
  await sleep(3_000);
  const pid = apiserverPid(cluster);
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  return pid;
}

async function measureOnce(cluster: BenchCluster, tool: Tool, namespace: string, count: number): Promise<Sample> {
  const pid = await freshApiserver(cluster, namespace);
  const allocatedBefore = await allocatedBytes(cluster);
  const before = memoryKiB(pid).rss;
  const cmd = commandFor(tool, cluster, namespace, count);
  let time: number;
  if (tool === 'curl list') {
    time = await timeProcess(cmd);
  } else {
    const proc = spawnLines(cmd);
    try {
      time = await proc.linesReached(count, 600_000);
    } finally {
      await proc.stop();
    }
  }
  const rise = memoryKiB(pid).peak - before;
  return { time, rise, before, allocated: ((await allocatedBytes(cluster)) - allocatedBefore) / 1024 };
}

interface Row extends Sample {
  members: number;
  tool: Tool;
}

async function measure(cluster: BenchCluster, count: number, runs: number): Promise<Row[]> {
  const namespace = await cluster.newNamespace('lists');
  progress(`creating ${count} members`);
  await cluster.createMembers(namespace, count);
  const samples = new Map<Tool, Sample[]>(TOOLS.map((t) => [t, []]));
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < TOOLS.length; k++) {
      const tool = TOOLS[(run + k) % TOOLS.length] as Tool;
      const sample = await measureOnce(cluster, tool, namespace, count);
      samples.get(tool)?.push(sample);
      const memory = `+${mib(sample.rise)} over ${mib(sample.before)}, ${mib(sample.allocated)} allocated`;
      progress(`N=${count} run ${run + 1}: ${tool} ${ms(sample.time)}, kube-apiserver ${memory}`);
    }
  }
  return TOOLS.map((tool) => {
    const taken = samples.get(tool) ?? [];
    return {
      members: count,
      tool,
      time: median(taken.map((s) => s.time)),
      rise: median(taken.map((s) => s.rise)),
      before: median(taken.map((s) => s.before)),
      allocated: median(taken.map((s) => s.allocated)),
    };
  });
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function report(rows: Row[], argv: string[]): string {
  const at = (n: number, tool: Tool): Row | undefined => rows.find((r) => r.members === n && r.tool === tool);
  const other: Partial<Record<Tool, Tool>> = { streamed: 'paged', paged: 'streamed' };
  const lines = [
    `node --import tsx bench/streamed-list.ts ${argv.join(' ')}`,
    '',
    '| N | tool | time to the N-th line | vs the other path | vs kubectl | vs curl stream | kube-apiserver RSS rise | vs the other path | RSS before | allocated | vs the other path |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const peer = other[r.tool];
    const against = peer === undefined ? undefined : at(r.members, peer);
    const cells = [
      String(r.members),
      SHOWN[r.tool],
      ms(r.time),
      against === undefined ? '' : ratio(r.time, against.time),
      ratio(r.time, at(r.members, 'kubectl')?.time ?? Number.NaN),
      ratio(r.time, at(r.members, 'curl stream')?.time ?? Number.NaN),
      mib(r.rise),
      against === undefined ? '' : ratio(r.rise, against.rise),
      mib(r.before),
      mib(r.allocated),
      against === undefined ? '' : ratio(r.allocated, against.allocated),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: { members: { type: 'string', default: '5000' }, runs: { type: 'string', default: '3' } },
  });
  const counts = values.members.split(',').map(Number);
  const runs = Number(values.runs);
  if (counts.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(runs) || runs < 1) {
    throw new Error('--members wants positive integers (comma-separated), --runs a positive integer');
  }
  progress('starting the control plane');
  const cluster = await startBenchCluster();
  try {
    if ((await status(`${cluster.cp.server}/api/v1/namespaces/default/configmaps?${STREAM_QUERY}&timeoutSeconds=1`, cluster)) !== 200) {
      throw new Error('this API server does not stream lists: nothing to compare (run it against 1.34 or later)');
    }
    const rows: Row[] = [];
    for (const count of counts) rows.push(...(await measure(cluster, count, runs)));
    process.stdout.write(report(rows, argv));
  } finally {
    cluster.close();
    await cluster.cp.stop();
  }
}

await main();
