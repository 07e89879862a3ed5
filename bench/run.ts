// npm run bench -- [--members 2000,50000] [--runs 3] [--live 2000] [--apply 1000] [--only startup,greeting,live,memory,apply]
import { parseArgs } from 'node:util';
import { type ApplyResult, measureApply } from './apply.js';
import { type BenchCluster, startBenchCluster } from './cluster.js';
import { type GreetingResult, measureGreeting } from './greeting.js';
import { hasGnuTime, progress } from './lib.js';
import { measureMemory, type MemoryResult } from './memory.js';
import { renderReport } from './report.js';
import { measureStartup, type StartupResult } from './startup.js';
import { measureThroughput, type ThroughputResult } from './throughput.js';

const SECTIONS = ['startup', 'greeting', 'live', 'memory', 'apply'] as const;
type Section = (typeof SECTIONS)[number];

export interface Settings {
  members: number[];
  runs: number;
  live: number;
  apply: number;
  only: Set<Section>;
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
    },
  });
  return {
    members: positiveInts(values.members, '--members'),
    runs: positiveInts(values.runs, '--runs')[0] as number,
    live: positiveInts(values.live, '--live')[0] as number,
    apply: positiveInts(values.apply, '--apply')[0] as number,
    only: sections(values.only),
  };
}

/** Greeting and memory share a namespace per N: the members are created once. */
async function perMemberCount(cluster: BenchCluster, s: Settings, results: Results): Promise<void> {
  for (const count of s.members) {
    if (!s.only.has('greeting') && !s.only.has('memory')) return;
    const namespace = await cluster.newNamespace('greet');
    progress(`creating ${count} members in ${namespace}`);
    const started = performance.now();
    await cluster.createMembers(namespace, count);
    progress(`created ${count} members in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (s.only.has('greeting')) results.greeting.push(await measureGreeting(cluster, namespace, count, s.runs));
    if (s.only.has('memory')) {
      if (hasGnuTime()) results.memory.push(await measureMemory(cluster, namespace, count, s.runs));
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
