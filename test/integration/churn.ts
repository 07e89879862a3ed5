import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { RunningCli } from '../harness/cli.js';
import type { EtcdHistory } from '../harness/etcd-history.js';
import { FaultInjector, type FaultKind, type FaultRecord } from '../harness/faults.js';
import { Prng } from '../harness/prng.js';
import { needsStreamedLists } from '../harness/requirements.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import {
  checkWatch,
  type Figures,
  parseEvents,
  parseRequests,
  type TruthChange,
  type Verdict,
  type WatchRequest,
} from '../harness/watch-checker.js';
import { Churn } from './history.js';
import { type TestEnv, useTruth, waitFor } from './support.js';

/** The size of one churn run against one control plane. */
export interface ChurnPlan {
  /** One group of namespaces and watchers per kind; the kinds' faults run side by side during the same churn. */
  faults: FaultKind[];
  operations: number;
  faultsPerKind: number;
  /** Names per namespace. */
  names: number;
  /** Members in a non-empty namespace when its watchers start. */
  prefill: number;
  concurrency: number;
}

export interface CombinationResult {
  /** e.g. `kill, empty start, --watch-only` */
  name: string;
  kind: FaultKind;
  verdict: Verdict;
  faults: readonly FaultRecord[];
  /** For a failed combination: where its output, debug log and truth were kept. */
  evidence: string | undefined;
}

/** What one churn run did, and the verdict on each of its watchers. */
interface ChurnReport {
  results: CombinationResult[];
  /** Why the watchers that stream lists were left out, if they were. */
  notStreamed: string | undefined;
  /** Operations made, prefill and markers included. */
  operations: number;
  /** Requests that failed during a fault and were resolved by reading back. */
  readBack: number;
}

type Start = 'empty' | 'non-empty';

interface Group {
  kind: FaultKind;
  proxy: TcpProxy;
  kubeconfig: string;
  namespaces: Record<Start, string>;
}

/** How a watcher lists: as a watch stream (the default where served) or in pages (KUBE_FEATURE_WatchListClient=false). */
type Lists = 'streamed' | 'paged';

interface Watcher {
  name: string;
  group: Group;
  namespace: string;
  watchOnly: boolean;
  lists: Lists;
  cli: RunningCli;
}

/** Created after the churn in every namespace: a watcher that printed it has printed all it ever will. */
const MARKER = 'zz-end';
const STARTS: Start[] = ['empty', 'non-empty'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Each kind's watchers reach kube-apiserver through their own proxy; the churn goes to it directly. */
async function makeGroup(env: TestEnv, kind: FaultKind): Promise<Group> {
  const proxy = await startTcpProxy(Number(new URL(env.cp.server).port));
  return {
    kind,
    proxy,
    kubeconfig: env.cp.kubeconfigFor({ server: `https://127.0.0.1:${proxy.port}` }),
    namespaces: {
      empty: await env.cluster.createNamespace(`${kind}-empty`),
      'non-empty': await env.cluster.createNamespace(`${kind}-full`),
    },
  };
}

const readyFile = (env: TestEnv, w: Pick<Watcher, 'namespace' | 'watchOnly' | 'lists'>): string =>
  join(env.cp.dir, `ready-${w.namespace}-${String(w.watchOnly)}-${w.lists}`);

/** Per namespace and way of listing, two watchers (with and without --watch-only), each ready before the churn starts. */
async function startWatchers(env: TestEnv, groups: readonly Group[], paths: readonly Lists[], watchers: Watcher[]): Promise<void> {
  for (const group of groups) {
    for (const start of STARTS) {
      for (const [lists, watchOnly] of paths.flatMap((l) => [false, true].map((w) => [l, w] as const))) {
        const namespace = group.namespaces[start];
        // A short server-side timeout makes a stalled connection count as dead within seconds.
        const extra = [...(watchOnly ? ['--watch-only'] : []), ...(group.kind === 'stall' ? ['--watch-timeout', '3s'] : [])];
        const args = [
          '--debug',
          '-n',
          namespace,
          'watch',
          '-o',
          'json',
          '--ready-file',
          readyFile(env, { namespace, watchOnly, lists }),
          ...extra,
        ];
        const cli = env.spawn(args, { kubeconfig: group.kubeconfig, env: { KUBE_FEATURE_WatchListClient: String(lists === 'streamed') } });
        const name = `${group.kind}, ${start} start${watchOnly ? ', --watch-only' : ''}, ${lists} lists`;
        watchers.push({ name, group, namespace, watchOnly, lists, cli });
      }
    }
  }
  for (const w of watchers) {
    const ready = readyFile(env, w);
    await waitFor(`${w.name} to be ready`, () => existsSync(ready) || undefined, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; it said: ${w.cli.stderr()}`);
    });
  }
}

/**
 * Resolves once every watcher printed an event it saw after `since` (it is back from the fault), or after a
 * minute (a watcher that is stuck is then found out by the checker).
 */
async function backOnline(watchers: readonly Watcher[], since: number): Promise<void> {
  const back = (w: Watcher): boolean => {
    const last = parseEvents(w.cli.lines.slice(-1))[0];
    return last !== undefined && Date.parse(last.time) >= since;
  };
  await waitFor('the watchers to be back', () => watchers.every(back) || undefined, 60_000).catch(() => undefined);
}

interface Outcome {
  caughtUp: boolean;
  code: number | null;
  stderr: string;
}

/** Waits until the watcher printed the marker (or gives up after a while: the checker then says what is missing). */
function printedMarker(w: Watcher): Promise<boolean> {
  const printed = (): boolean => w.cli.lines.some((l) => l.includes(`"name":"${MARKER}"`));
  return waitFor(`${w.name} to print the marker`, () => printed() || undefined, 120_000).then(
    () => true,
    () => false,
  );
}

async function stopWatcher(w: Watcher, caughtUp: boolean): Promise<Outcome> {
  w.cli.kill('SIGINT');
  const result = await w.cli.done;
  return { caughtUp, code: result.code, stderr: result.stderr };
}

/** What each `namespace/name` holds at the end according to etcd: its team (null for none); gone names left out. */
function finalHoldings(truth: readonly TruthChange[], namespaces: ReadonlySet<string>): Map<string, string | null> {
  const held = new Map<string, string | null>();
  for (const c of truth) {
    if (!namespaces.has(c.namespace)) continue;
    const key = `${c.namespace}/${c.name}`;
    if (c.kind === 'put') held.set(key, c.team);
    else held.delete(key);
  }
  return held;
}

/** A failed combination's output, debug log and truth, kept for the post-mortem (the control plane's dir is removed). */
function keepEvidence(w: Watcher, truth: EtcdHistory, outcome: Outcome): string {
  const dir = join(tmpdir(), `member-watch-churn-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, w.name.replace(/[^a-z0-9]+/gi, '-'));
  writeFileSync(`${base}.stdout.ndjson`, w.cli.lines.join('\n') + '\n');
  writeFileSync(`${base}.stderr.txt`, outcome.stderr);
  const mine = truth.changes.filter((c) => c.namespace === w.namespace);
  writeFileSync(`${base}.truth.ndjson`, mine.map((c) => JSON.stringify(c)).join('\n') + '\n');
  return base;
}

/** A fault that changed nothing for the watcher would make the combination pass without testing it. */
function unfelt(kind: FaultKind, figures: Figures, faults: readonly FaultRecord[], proxy: TcpProxy): string | undefined {
  if (kind === 'compaction' && figures.relists === 0) return `no relist after ${faults.length} compactions`;
  // A restarted server may accept the resourceVersion a watcher resumes from (it saw the last change before the
  // kill, or a bookmark past it): a resume is then right, and the restart is felt as the reconnection alone.
  if (kind === 'kill' && figures.relists + figures.resumes < faults.length)
    return `${figures.relists} relists and ${figures.resumes} resumed watches after ${faults.length} kills`;
  if (kind === 'cut' && figures.resumes < faults.length) return `${figures.resumes} resumed watches after ${faults.length} cuts`;
  if (kind === 'stall' && proxy.stalled === 0) return 'the stalls held no traffic';
  return undefined;
}

/** A watcher meant to stream its lists that made a paged one would pass for the streamed path without testing it. */
function pagedInstead(w: Watcher, requests: readonly WatchRequest[]): string | undefined {
  const lists = requests.filter((r) => r.kind !== 'watch');
  const paged = w.lists === 'streamed' ? lists.filter((r) => r.kind === 'list') : lists.filter((r) => r.kind === 'stream');
  return paged.length === 0 ? undefined : `${paged.length} of its ${lists.length} lists were not ${w.lists}`;
}

function verdictFor(w: Watcher, truth: EtcdHistory, outcome: Outcome, faults: readonly FaultRecord[]): Verdict {
  const requests = parseRequests(outcome.stderr);
  const verdict = checkWatch(truth.changes, parseEvents(w.cli.lines), requests, { namespace: w.namespace, watchOnly: w.watchOnly });
  const otherPath = pagedInstead(w, requests);
  if (otherPath !== undefined) verdict.problems.unshift(`the path was not tested: ${otherPath}`);
  const notTested = unfelt(w.group.kind, verdict.figures, faults, w.group.proxy);
  if (notTested !== undefined) verdict.problems.unshift(`the fault did not bite: ${notTested}`);
  if (!outcome.caughtUp) verdict.problems.unshift(`never printed the marker member created after the churn (it is behind or stuck)`);
  if (outcome.code !== 0)
    verdict.problems.unshift(`exit code ${String(outcome.code)} after SIGINT; stderr ends: ${outcome.stderr.slice(-400)}`);
  return verdict;
}

/**
 * One churn against one control plane: for each fault kind, an empty and a non-empty namespace, each watched
 * with and without --watch-only, through the kind's own proxy. Every watcher is checked against etcd's history.
 */
async function churnAndCheck(env: TestEnv, truth: EtcdHistory, prng: Prng, plan: ChurnPlan): Promise<ChurnReport> {
  const groups: Group[] = [];
  const watchers: Watcher[] = [];
  try {
    for (const kind of plan.faults) groups.push(await makeGroup(env, kind));
    const namespaces = groups.flatMap((g) => STARTS.map((s) => g.namespaces[s]));
    const churn = new Churn(env, { namespaces, names: plan.names, concurrency: plan.concurrency, prng: prng.fork('churn') });
    await churn.prefill(
      plan.prefill,
      groups.map((g) => g.namespaces['non-empty']),
    );
    const streamed = needsStreamedLists().skip === undefined;
    await startWatchers(env, groups, streamed ? ['streamed', 'paged'] : ['paged'], watchers);
    const injectors = groups.map(
      (g) => new FaultInjector(g.kind, prng.fork(`faults:${g.kind}`), { cp: env.cp, proxies: [g.proxy], truth }),
    );
    const stretch = plan.operations / (plan.faultsPerKind + 1);
    const faults = Promise.all(
      injectors.map((injector, i) =>
        injector.during(churn, stretch, plan.faultsPerKind, (since) =>
          backOnline(
            watchers.filter((w) => w.group === groups[i]),
            since,
          ),
        ),
      ),
    );
    await Promise.all([churn.run(plan.operations, faults), faults]);
    await Promise.all(namespaces.map((ns) => churn.marker(ns, MARKER)));
    const markers = new Set(namespaces);
    await truth.waitFor(
      'the markers',
      () => truth.changes.filter((c) => c.name === MARKER && markers.has(c.namespace)).length === markers.size,
    );
    assert.deepEqual(
      finalHoldings(truth.changes, markers),
      churn.holdings(),
      'etcd history and the churn driver disagree: the truth is broken',
    );
    const caughtUp = await Promise.all(watchers.map(printedMarker));
    // Anything printed twice would come now.
    await sleep(1_000);
    const checked = watchers.splice(0);
    const outcomes = await Promise.all(checked.map((w, i) => stopWatcher(w, caughtUp[i] === true)));
    const results = checked.map((w, i) => {
      const outcome = outcomes[i] as Outcome;
      const faults = injectors[groups.indexOf(w.group)]?.log ?? [];
      const verdict = verdictFor(w, truth, outcome, faults);
      const evidence = verdict.problems.length > 0 ? keepEvidence(w, truth, outcome) : undefined;
      return { name: w.name, kind: w.group.kind, verdict, faults, evidence };
    });
    const notStreamed = needsStreamedLists().skip;
    return { results, notStreamed, operations: churn.done, readBack: churn.unsure };
  } finally {
    for (const w of watchers) w.cli.kill('SIGKILL');
    await Promise.all(groups.map((g) => g.proxy.close()));
  }
}

/** How big a churn suite is: per control plane run, and the faults per kind (kills are slow: fewer). */
export interface ChurnSize extends Omit<ChurnPlan, 'faults'> {
  kills: number;
  timeoutMs: number;
}

/**
 * The churn suite: every combination of empty/non-empty start × fault × --watch-only × streamed/paged lists (streamed
 * where the server serves them). Cuts and stalls share a run (each kind has its own proxy); kills get a run of their
 * own, since a killed kube-apiserver reaches every watcher; compaction needs a control plane without the watch cache.
 * CHURN_SEED=N replays a run's plan.
 */
export function defineChurnSuite(size: ChurnSize): void {
  const prng = Prng.fromEnv('CHURN_SEED');
  const { timeoutMs, kills, ...plan } = size;

  describe('churn against the ground truth, with the watch cache', () => {
    const { env, truth } = useTruth();

    test("etcd's history holds every change of a member, with the resourceVersion the API gave it", async () => {
      const ns = await env.cluster.createNamespace('truth');
      await env.createMember(ns, 'ann', 'blue');
      const created = await env.getMember(ns, 'ann');
      await env.setTeam(ns, 'ann', 'red');
      await env.labelMember(ns, 'ann', 'quiet', 'yes');
      const labelled = await env.getMember(ns, 'ann');
      await env.deleteMember(ns, 'ann');
      const history = truth();
      await history.waitFor('the deletion', () => history.changes.some((c) => c.namespace === ns && c.kind === 'delete'));
      const uid = created?.metadata.uid ?? '';
      const seen = history.changes.filter((c) => c.namespace === ns).map((c) => [c.kind, c.team, c.uid]);
      assert.deepEqual(seen, [
        ['put', 'blue', uid],
        ['put', 'red', uid],
        ['put', 'red', uid],
        ['delete', 'red', uid],
      ]);
      const revisions = history.changes.filter((c) => c.namespace === ns).map((c) => String(c.revision));
      assert.equal(revisions[0], created?.metadata.resourceVersion);
      assert.equal(revisions[2], labelled?.metadata.resourceVersion);
    });

    test('connections cut and stalled through a proxy', { timeout: timeoutMs }, async (t) => {
      const report = await churnAndCheck(env, truth(), prng.fork('cut+stall'), { ...plan, faults: ['cut', 'stall'] });
      await reportCombinations(t, prng, report);
    });

    test('kube-apiserver killed with SIGKILL and restarted', { timeout: timeoutMs }, async (t) => {
      const report = await churnAndCheck(env, truth(), prng.fork('kill'), { ...plan, faults: ['kill'], faultsPerKind: kills });
      await reportCombinations(t, prng, report);
    });
  });

  describe('churn against the ground truth, without the watch cache', () => {
    const { env, truth } = useTruth({ watchCache: false });

    test('etcd compacted past watchers that were cut off: 410 and relists', { timeout: timeoutMs }, async (t) => {
      const report = await churnAndCheck(env, truth(), prng.fork('compaction'), { ...plan, faults: ['compaction'] });
      await reportCombinations(t, prng, report);
    });
  });
}

const COLUMNS = ['produced', 'expected', 'seen', 'missing', 'duplicated', 'wrong', 'relisted', 'relists', 'resumes'] as const;

/**
 * Figures per combination as diagnostics (a markdown table, as docs/reliability.md shows them), then one subtest
 * per combination that fails with what went wrong.
 */
async function reportCombinations(t: TestContext, prng: Prng, report: ChurnReport): Promise<void> {
  const { results } = report;
  t.diagnostic(`seed ${prng.seed} (CHURN_SEED=${prng.seed} replays the same plan)`);
  t.diagnostic(`${report.operations} operations, ${report.readBack} failed during a fault and read back`);
  t.diagnostic(`| combination | faults | ${COLUMNS.join(' | ')} |`);
  for (const r of results) {
    const figures = COLUMNS.map((c) => r.verdict.figures[c]);
    t.diagnostic(`| ${r.name} | ${r.faults.length} | ${figures.join(' | ')} |`);
  }
  for (const kind of new Set(results.map((r) => r.kind))) {
    const faults = results.find((r) => r.kind === kind)?.faults ?? [];
    t.diagnostic(`${kind}: ${faults.map((f) => f.detail).join('; ')}`);
  }
  if (report.notStreamed !== undefined) await t.test('streamed lists', { skip: report.notStreamed }, () => undefined);
  for (const r of results) {
    await t.test(r.name, () => {
      const { problems } = r.verdict;
      const shown = problems.slice(0, 25).join('\n  ');
      const kept = r.evidence === undefined ? '' : `\n  output, debug log and truth kept in ${r.evidence}.*`;
      assert.equal(problems.length, 0, `CHURN_SEED=${prng.seed}, ${r.name}: ${problems.length} problems\n  ${shown}${kept}`);
    });
  }
}
