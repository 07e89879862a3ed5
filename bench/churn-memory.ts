// Does a watch keep anything per deleted member? Creates and deletes the same names round after round and
// measures what stays: in this process (the watcher alone, heap after a forced GC) and in a running
// `member-watch watch` (heap snapshots, which collect garbage first, and RSS).
// npm run build && node --expose-gc --import tsx bench/churn-memory.ts [--rounds 20] [--names 1000]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '../src/kube/client.js';
import { streamsLists } from '../src/commands/parse.js';
import type { MemberEvent } from '../src/watcher/events.js';
import { watchMembers } from '../src/watcher/watcher.js';
import { type BenchCluster, GROUP, startBenchCluster } from './cluster.js';
import { CLI, progress, sleep, spawnLines } from './lib.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '20' }, names: { type: 'string', default: '1000' } },
});
const ROUNDS = Number(values.rounds);
const NAMES = Number(values.names);
const gc =
  (globalThis as { gc?: () => void }).gc ??
  ((): never => {
    throw new Error('run with node --expose-gc');
  });

interface Sample {
  round: number;
  /** KiB */
  heap: number;
  /** KiB */
  rss: number;
}

/** Creates NAMES members, waits until both watchers announced them, deletes them all at once, waits again. */
async function round(cluster: BenchCluster, namespace: string, seen: () => { added: number; deleted: number }, n: number): Promise<void> {
  await cluster.createMembers(namespace, NAMES);
  await until(() => seen().added >= n * NAMES, `${n * NAMES} welcomes`);
  await deleteAll(cluster, namespace);
  await until(() => seen().deleted >= n * NAMES, `${n * NAMES} goodbyes`);
}

/** One deletecollection request: the watchers see every member leave at once. */
function deleteAll(cluster: BenchCluster, namespace: string): Promise<void> {
  const { cp } = cluster;
  const url = `${cp.server}/apis/${GROUP}/v1/namespaces/${namespace}/members`;
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: 'DELETE', headers: { authorization: `Bearer ${cp.adminToken}` }, ca: readFileSync(cp.caFile) },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`deletecollection: HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** What a heap snapshot holds (it is taken after a full collection): KiB in all, and bytes per kind of object. */
function readSnapshot(file: string): { kib: number; byKind: Map<string, number> } {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const types = snapshot.snapshot.meta.node_types[0];
  const byKind = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const size = snapshot.nodes[i + sizeAt] as number;
    const type = types[snapshot.nodes[i + typeAt] as number] ?? '?';
    // Objects and closures by constructor or function name; strings, code and the rest by type alone.
    const kind = type === 'object' || type === 'closure' ? `${type} ${snapshot.strings[snapshot.nodes[i + nameAt] as number]}` : type;
    byKind.set(kind, (byKind.get(kind) ?? 0) + size);
    total += size;
  }
  return { kib: Math.round(total / 1024), byKind };
}

/** The kinds of object that grew most between two snapshots. */
function grown(first: Map<string, number>, last: Map<string, number>, top = 5): string {
  return [...last]
    .map(([kind, size]) => [kind, size - (first.get(kind) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([kind, bytes]) => `${kind} ${bytes >= 0 ? '+' : ''}${bytes} B`)
    .join(', ');
}

/** `member-watch watch -o json`, counting the welcomes and goodbyes it prints. */
function watchCommand(
  cluster: BenchCluster,
  namespace: string,
  nodeFlags: string[],
): { pid: number; counts: { added: number; deleted: number }; stop: () => Promise<void> } {
  const counts = { added: 0, deleted: 0 };
  const cli = spawnLines(
    { file: process.execPath, args: [...nodeFlags, CLI, ...cluster.cliFlags, '-n', namespace, 'watch', '-o', 'json'] },
    (line) => {
      if (line.includes('"ADDED"')) counts.added += 1;
      if (line.includes('"DELETED"')) counts.deleted += 1;
    },
  );
  return { pid: cli.child.pid as number, counts, stop: () => cli.stop() };
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

/** The snapshot the process writes on SIGUSR2 (the caller removes each one after reading it). */
async function takeSnapshot(pid: number, dir: string): Promise<string> {
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    const [name] = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
    // Written under its final name as it goes: wait until it parses.
    if (name !== undefined) {
      const file = join(dir, name);
      try {
        readSnapshot(file);
        return file;
      } catch {
        // still being written
      }
    }
    await sleep(200);
  }
}

async function main(): Promise<void> {
  const cluster = await startBenchCluster();
  const dir = mkdtempSync(join(tmpdir(), 'churn-memory-'));
  try {
    const namespace = await cluster.newNamespace('churn');
    const counts = { added: 0, deleted: 0 };
    const kube = connect({ kubeconfig: cluster.cp.kubeconfig, namespace });
    const stop = new AbortController();
    const sink = {
      event: (e: MemberEvent): void => {
        if (e.type === 'ADDED') counts.added += 1;
        if (e.type === 'DELETED') counts.deleted += 1;
      },
      status: (): void => undefined,
      backpressure: (): undefined => undefined,
    };
    const options = {
      namespace,
      greetExisting: true,
      waitForCrd: false,
      watchTimeoutSeconds: 300,
      pageSize: 500,
      streamLists: streamsLists(process.env),
    };
    const watching = watchMembers(kube, options, sink, stop.signal);
    // Two watch commands: heap snapshots inflate a process's RSS for good, so one is only ever measured from outside.
    const forHeap = watchCommand(cluster, namespace, [`--diagnostic-dir=${dir}`, '--heapsnapshot-signal=SIGUSR2']);
    const forRss = watchCommand(cluster, namespace, []);
    await sleep(2_000);
    const here: Sample[] = [];
    const there: Sample[] = [];
    const kinds: Array<Map<string, number>> = [];
    const seen = (): { added: number; deleted: number } => ({
      added: Math.min(counts.added, forHeap.counts.added, forRss.counts.added),
      deleted: Math.min(counts.deleted, forHeap.counts.deleted, forRss.counts.deleted),
    });
    for (let n = 1; n <= ROUNDS; n++) {
      await round(cluster, namespace, seen, n);
      gc();
      here.push({ round: n, heap: Math.round(process.memoryUsage().heapUsed / 1024), rss: Math.round(process.memoryUsage().rss / 1024) });
      let heap = Number.NaN;
      if (n === 1 || n === ROUNDS || n % 5 === 0) {
        const file = await takeSnapshot(forHeap.pid, dir);
        const read = readSnapshot(file);
        heap = read.kib;
        kinds.push(read.byKind);
        rmSync(file);
      }
      there.push({ round: n, heap, rss: rssKiB(forRss.pid) });
      progress(
        `round ${n}: ${NAMES} created and deleted; watcher in this process: heap ${here.at(-1)?.heap} KiB; ` +
          `member-watch: RSS ${there.at(-1)?.rss} KiB${Number.isNaN(heap) ? '' : `, heap ${heap} KiB`}`,
      );
    }
    stop.abort();
    await watching;
    kube.close();
    await Promise.all([forHeap.stop(), forRss.stop()]);
    report(here, there);
    console.log(`member-watch, grown most from the first snapshot to the last: ${grown(kinds[0] ?? new Map(), kinds.at(-1) ?? new Map())}`);
  } finally {
    cluster.close();
    rmSync(dir, { recursive: true, force: true });
    await cluster.cp.stop();
  }
}

function report(here: Sample[], there: Sample[]): void {
  const grow = (all: Sample[], key: 'heap' | 'rss'): string => {
    const samples = all.filter((s) => !Number.isNaN(s[key]));
    const first = samples[0]?.[key] ?? Number.NaN;
    const last = samples.at(-1)?.[key] ?? Number.NaN;
    return `${first} -> ${last} KiB (${last - first >= 0 ? '+' : ''}${last - first} KiB, ${((last - first) / ((ROUNDS - 1) * NAMES)).toFixed(3)} KiB per deleted member after round 1)`;
  };
  console.log(`\n${ROUNDS} rounds of creating and deleting the same ${NAMES} names\n`);
  console.log(`| measured | round 1 -> round ${ROUNDS} |\n| --- | --- |`);
  console.log(`| watcher in this process, heap after GC | ${grow(here, 'heap')} |`);
  console.log(`| member-watch watch, heap snapshot | ${grow(there, 'heap')} |`);
  console.log(`| member-watch watch, RSS | ${grow(there, 'rss')} |`);
  console.log(`\nmember-watch RSS by round (KiB): ${there.map((s) => s.rss).join(', ')}`);
  console.log(
    `member-watch heap by round (KiB): ${there
      .filter((s) => !Number.isNaN(s.heap))
      .map((s) => `${s.round}: ${s.heap}`)
      .join(', ')}`,
  );
}

await main();
