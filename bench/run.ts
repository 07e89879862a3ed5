// npm run bench -- [--members 2000,50000] [--runs 3] [--live 2000] [--apply 1000] [--all-namespaces K]
//                    [--operator-members 5000] [--idle-seconds 60]
//                    [--large-members 2000] [--large-kib 100]
//                    [--only startup,greeting,live,memory,apply (the default),reconcile,failover,idle,large]
import { parseArgs } from 'node:util';
import { type ApplyResult, measureApply } from './apply.js';
import { type BenchCluster, type Scope, startBenchCluster } from './cluster.js';
import { type FailoverResult, measureFailover } from './failover.js';
import { type GreetingResult, measureGreeting } from './greeting.js';
import { type IdleResult, measureIdle, welcomedNamespace } from './idle.js';
import { type LargeListResult, measureLargeLists } from './large-lists.js';
import { hasGnuTime, progress } from './lib.js';
import { measureMemory, type MemoryResult } from './memory.js';
import { setUpOperators } from './operators.js';
import { measureReconcile, type ReconcileResult } from './reconcile.js';
import { renderReport } from './report.js';
import { measureStartup, type StartupResult } from './startup.js';
import { measureThroughput, type ThroughputResult } from './throughput.js';

const SECTIONS = ['startup', 'greeting', 'live', 'memory', 'apply', 'reconcile', 'failover', 'idle', 'large'] as const;
const OPERATOR_SECTIONS: readonly Section[] = ['reconcile', 'failover', 'idle'];
// the operator's sections take about 12 minutes at their N, the large objects 200 MB of etcd: asked for by name
const DEFAULT_SECTIONS = SECTIONS.filter((x) => !OPERATOR_SECTIONS.includes(x) && x !== 'large');
type Section = (typeof SECTIONS)[number];

export interface Settings {
  /** As given, to print the command that reproduces the report. */
  argv: string[];
  members: number[];
  runs: number;
  live: number;
  apply: number;
  only: Set<Section>;
  /** Greeting and memory spread the members over this many namespaces and watch with -A. */
  allNamespaces: number | undefined;
  /** Members created at once for the operator's reconcile runs, and watched while idle. */
  operatorMembers: number;
  idleSeconds: number;
  /** Members, and KiB of each, for the large objects. */
  largeMembers: number;
  largeKiB: number;
}

export interface Results {
  settings: Settings;
  startup?: StartupResult;
  greeting: GreetingResult[];
  live?: ThroughputResult;
  memory: MemoryResult[];
  apply?: ApplyResult;
  reconcile?: ReconcileResult;
  failover?: FailoverResult;
  idle?: IdleResult;
  large?: LargeListResult;
}

function positiveInts(text: string, flag: string): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`${flag} wants positive integers, got ${text}`);
  return values;
}

function sections(text: string): Set<Section> {
  const names = text.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (bad.length > 0) throw new Error(`--only: unknown ${bad.join(', ')}; choose from ${SECTIONS.join(', ')}`);
  return new Set(names as Section[]);
}

function settingsFrom(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      members: { type: 'string', default: '2000' },
      runs: { type: 'string', default: '3' },
      live: { type: 'string', default: '2000' },
      apply: { type: 'string', default: '1000' },
      only: { type: 'string', default: DEFAULT_SECTIONS.join(',') },
      'all-namespaces': { type: 'string' },
      'operator-members': { type: 'string', default: '5000' },
      'idle-seconds': { type: 'string', default: '60' },
      'large-members': { type: 'string', default: '2000' },
      'large-kib': { type: 'string', default: '100' },
    },
  });
  const members = positiveInts(values.members, '--members');
  const spread = values['all-namespaces'];
  if (spread !== undefined && members.some((n, i) => i > 0 && n <= (members[i - 1] as number)))
    throw new Error('--all-namespaces adds members from one N to the next: --members must be increasing');
  return {
    argv,
    members,
    runs: positiveInts(values.runs, '--runs')[0] as number,
    live: positiveInts(values.live, '--live')[0] as number,
    apply: positiveInts(values.apply, '--apply')[0] as number,
    only: sections(values.only),
    allNamespaces: spread === undefined ? undefined : (positiveInts(spread, '--all-namespaces')[0] as number),
    operatorMembers: positiveInts(values['operator-members'], '--operator-members')[0] as number,
    idleSeconds: positiveInts(values['idle-seconds'], '--idle-seconds')[0] as number,
    largeMembers: positiveInts(values['large-members'], '--large-members')[0] as number,
    largeKiB: positiveInts(values['large-kib'], '--large-kib')[0] as number,
  };
}

/** Makes a scope that holds exactly `count` members. */
type Placement = (count: number) => Promise<Scope>;

/** A fresh namespace for each N. */
function namespacePerCount(cluster: BenchCluster): Placement {
  return async (count) => {
    const namespace = await cluster.newNamespace('greet');
    await cluster.createMembers(namespace, count);
    return { namespace };
  };
}

/** The same namespaces for every N, topped up evenly: with -A the whole cluster is the scope. */
function spreadOver(cluster: BenchCluster, namespaceCount: number): Placement {
  const held: { namespace: string; members: number }[] = [];
  return async (count) => {
    while (held.length < namespaceCount) held.push({ namespace: await cluster.newNamespace('spread'), members: 0 });
    await Promise.all(
      held.map(async (ns, k) => {
        const share = Math.floor(count / namespaceCount) + (k < count % namespaceCount ? 1 : 0);
        await cluster.createMembers(ns.namespace, share - ns.members, { first: ns.members });
        ns.members = share;
      }),
    );
    return { allNamespaces: true };
  };
}

/** Greeting and memory share a scope per N: the members are created once. */
async function perMemberCount(cluster: BenchCluster, s: Settings, results: Results): Promise<void> {
  if (!s.only.has('greeting') && !s.only.has('memory')) return;
  const place = s.allNamespaces === undefined ? namespacePerCount(cluster) : spreadOver(cluster, s.allNamespaces);
  for (const count of s.members) {
    progress(`creating ${count} members${s.allNamespaces === undefined ? '' : ` over ${s.allNamespaces} namespaces`}`);
    const started = performance.now();
    const scope = await place(count);
    progress(`created ${count} members in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (s.only.has('greeting')) results.greeting.push(await measureGreeting(cluster, scope, count, s.runs));
    if (s.only.has('memory')) {
      if (hasGnuTime()) results.memory.push(await measureMemory(cluster, scope, count, s.runs));
      else progress('memory: /usr/bin/time is missing; skipped');
    }
  }
}

/** The operator's: reconcile leaves a namespace of welcomed members, which idle watches (or makes its own). */
async function operatorSections(cluster: BenchCluster, s: Settings, results: Results): Promise<void> {
  if (!OPERATOR_SECTIONS.some((x) => s.only.has(x))) return;
  const ops = await setUpOperators(cluster);
  if (s.only.has('reconcile')) results.reconcile = await measureReconcile(ops, s.operatorMembers, s.runs);
  if (s.only.has('failover')) results.failover = await measureFailover(ops, s.runs);
  if (s.only.has('idle')) {
    const settled = results.reconcile?.settledNamespace ?? (await welcomedNamespace(ops, s.operatorMembers));
    results.idle = await measureIdle(ops, settled, s.operatorMembers, s.idleSeconds);
  }
}

async function measureAll(s: Settings): Promise<Results> {
  const results: Results = { settings: s, greeting: [], memory: [] };
  // start-up is cheap and the noisiest: more runs, and before the control plane competes for the CPUs
  if (s.only.has('startup')) results.startup = await measureStartup(Math.max(10, s.runs));
  const needsCluster = [...s.only].some((x) => x !== 'startup');
  if (!needsCluster) return results;
  progress('starting the control plane');
  const cluster = await startBenchCluster();
  try {
    await perMemberCount(cluster, s, results);
    if (s.only.has('live')) results.live = await measureThroughput(cluster, s.live, s.runs);
    if (s.only.has('apply')) results.apply = await measureApply(cluster, s.apply, s.runs);
    await operatorSections(cluster, s, results);
    if (s.only.has('large') && hasGnuTime()) results.large = await measureLargeLists(cluster, s.largeMembers, s.largeKiB, s.runs);
  } finally {
    cluster.close();
    await cluster.cp.stop();
  }
  return results;
}

async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2));
  const started = performance.now();
  const results = await measureAll(settings);
  progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  process.stdout.write(renderReport(results));
}

await main();
