// npm run bench -- [--members 2000,50000] [--runs 3] [--live 2000] [--apply 1000] [--only startup,greeting,live,memory,apply]
//                    [--all-namespaces K]
import { parseArgs } from 'node:util';
import { type ApplyResult, measureApply } from './apply.js';
import { type BenchCluster, type Scope, startBenchCluster } from './cluster.js';
import { type GreetingResult, measureGreeting } from './greeting.js';
import { hasGnuTime, progress } from './lib.js';
import { measureMemory, type MemoryResult } from './memory.js';
import { renderReport } from './report.js';
import { measureStartup, type StartupResult } from './startup.js';
import { measureThroughput, type ThroughputResult } from './throughput.js';

const SECTIONS = ['startup', 'greeting', 'live', 'memory', 'apply'] as const;
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
}

export interface Results {
  settings: Settings;
  startup?: StartupResult;
  greeting: GreetingResult[];
  live?: ThroughputResult;
  memory: MemoryResult[];
  apply?: ApplyResult;
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
      only: { type: 'string', default: SECTIONS.join(',') },
      'all-namespaces': { type: 'string' },
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
