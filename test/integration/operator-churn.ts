import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { EtcdHistory, StoredChange, StoredState } from '../harness/etcd-history.js';
import { FaultInjector, type ScheduledFaults } from '../harness/faults.js';
import { checkOperator, FINALIZER, type KubeEvent, type ProcessLog, type OperatorVerdict } from '../harness/operator-checker.js';
import { Prng } from '../harness/prng.js';
import { ReplicaFaults, type ReplicaFaultKind } from '../harness/replica-faults.js';
import { Replicas } from '../harness/replicas.js';
import { Churn, settle } from './history.js';
import { FAST_ELECTION, FAST_LEASE_MS, FAST_RENEW_MS, FAST_RETRY_MS, type Operator, startOperator } from './operator-support.js';
import { type TestEnv, useTruth, waitFor } from './support.js';

/**
 * The faults of the operator's property test: those of one replica or of the Lease (test/harness/replica-faults.ts),
 * every replica's connections cut or stalled through its own proxy, kube-apiserver killed with SIGKILL and
 * restarted, etcd compacted past replicas kept away from it.
 */
type OperatorFault = ReplicaFaultKind | 'cut' | 'stall' | 'restart' | 'compaction';

/** One combination: operators with one kind of fault, a number of replicas and a finalizer mode. */
interface GroupPlan {
  fault: OperatorFault;
  replicas: number;
  finalizer: boolean;
}

/** One churn against one control plane, with its groups side by side. */
interface RunPlan {
  groups: readonly GroupPlan[];
  /** Namespaces per group; a group with several watches every namespace, so it must be alone in its run. */
  namespaces: number;
  /** At least this many changes (the churn goes on until the faults are over, then a tenth more). */
  operations: number;
  faultsPerKind: number;
  /** Names per namespace: each is created, re-teamed, deleted and created again under a new uid. */
  names: number;
  /** Members in each namespace before the operators start. */
  prefill: number;
  concurrency: number;
}

interface Group {
  plan: GroupPlan;
  name: string;
  namespaces: string[];
  /** Where the Lease lives, when the replicas elect a leader: a namespace that is never deleted. */
  lease: { namespace: string; name: string } | undefined;
  replicas: Replicas<Operator>;
  faults: ScheduledFaults<string>;
  /** Per namespace, when its deletion began: from then on it refuses Events. */
  eventsRefusedFrom: Map<string, number>;
  connectionsAtStart: number;
}

interface CombinationResult {
  name: string;
  verdict: OperatorVerdict;
  faults: readonly { detail: string }[];
  evidence: string | undefined;
}

interface RunReport {
  results: CombinationResult[];
  operations: number;
  readBack: number;
  /** How long each phase took, in words. */
  phases: string[];
}

const LEASE_NAME = 'member-watch';
/**
 * How far from a commit a replica's death or step-down excuses its missing line: its write is cut off at the renew
 * deadline at the latest, and on a loaded machine timers and answers run seconds late.
 */
const ANSWER_WINDOW_MS = FAST_RENEW_MS + 7_000;
const SETTLE_MS = 120_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function electsLeader(plan: GroupPlan): boolean {
  return plan.replicas > 1 || plan.fault === 'lease';
}

function combinationName(plan: GroupPlan, everyNamespace: boolean): string {
  const replicas = `${plan.replicas} replica${plan.replicas === 1 ? '' : 's'}${electsLeader(plan) ? '' : ' (no Lease)'}`;
  return `${plan.fault}, ${replicas}, finalizer ${plan.finalizer ? 'on' : 'off'}${everyNamespace ? ', every namespace' : ''}`;
}

// --- the truth, folded as it grows ---

/** The latest version of every member, and when an operator last wrote one, folded from etcd's history. */
class Holdings {
  private readonly latest = new Map<string, StoredChange>();
  /** Per namespace, when the history last saw an operator's write there (status, finalizers). */
  private readonly lastWrite = new Map<string, number>();
  private readonly before = new Map<string, StoredState>();
  private seen = 0;

  constructor(private readonly truth: EtcdHistory) {}

  /** Takes in what the history saw since the last call. */
  update(): this {
    const { changes } = this.truth;
    for (; this.seen < changes.length; this.seen++) this.take(changes[this.seen] as StoredChange);
    return this;
  }

  members(namespaces: readonly string[]): StoredChange[] {
    return [...this.latest.values()].filter((c) => namespaces.includes(c.namespace));
  }

  actedSince(namespaces: readonly string[], since: number): boolean {
    return namespaces.some((ns) => (this.lastWrite.get(ns) ?? 0) >= since);
  }

  /** Whether every member of the namespaces is as the operator wants it: welcomed, its status as its spec. */
  settled(namespaces: readonly string[], finalizer: boolean): boolean {
    return this.members(namespaces).every(
      ({ stored, team }) =>
        !stored.deleting &&
        stored.announcedAt !== null &&
        stored.announcedTeam === team &&
        stored.observedGeneration === stored.generation &&
        stored.finalizers.includes(FINALIZER) === finalizer,
    );
  }

  private take(change: StoredChange): void {
    const key = `${change.namespace}/${change.name}`;
    const before = this.before.get(change.uid);
    if (before !== undefined && (change.kind === 'delete' || operatorWrote(before, change.stored))) {
      this.lastWrite.set(change.namespace, change.seenAt);
    }
    this.before.set(change.uid, change.stored);
    if (change.kind === 'delete') this.latest.delete(key);
    else this.latest.set(key, change);
  }
}

function operatorWrote(before: StoredState, now: StoredState): boolean {
  return (
    before.announcedAt !== now.announcedAt ||
    before.observedGeneration !== now.observedGeneration ||
    before.finalizers.join() !== now.finalizers.join()
  );
}

/** True once `done()` holds, false after the timeout: what did not happen is then the checker's to name. */
function until(what: string, done: () => boolean, timeoutMs: number): Promise<boolean> {
  return waitFor(what, () => done() || undefined, timeoutMs).then(
    () => true,
    () => false,
  );
}

// --- groups ---

/** The replica that leads now (the latest to say Leading without StoppedLeading since); slot 0 without a Lease. */
function leaderOf(group: Pick<Group, 'plan' | 'replicas'>): number | undefined {
  if (!electsLeader(group.plan)) return 0;
  let best: { slot: number; since: string } | undefined;
  for (let slot = 0; slot < group.replicas.count; slot++) {
    const last = group.replicas
      .current(slot)
      .entries()
      .filter((e) => e.event === 'Leading' || e.event === 'StoppedLeading')
      .at(-1);
    if (last?.event === 'Leading' && (best === undefined || last.time > best.since)) best = { slot, since: last.time };
  }
  return best?.slot;
}

function operatorArgs(plan: GroupPlan, namespaces: readonly string[], lease: Group['lease']): string[] {
  const args = namespaces.length === 1 ? ['--watch-namespace', namespaces[0] as string] : [];
  if (!plan.finalizer) args.push('--no-finalizer');
  if (lease !== undefined)
    args.push('--leader-elect', '--leader-election-namespace', lease.namespace, '--leader-election-id', lease.name, ...FAST_ELECTION);
  return args;
}

async function makeGroup(env: TestEnv, truth: EtcdHistory, prng: Prng, plan: GroupPlan, count: number): Promise<Group> {
  const prefix = `${plan.fault}-${plan.replicas}${plan.finalizer ? 'f' : 'n'}`;
  const namespaces: string[] = [];
  for (let i = 0; i < count; i++) namespaces.push(await env.cluster.createNamespace(prefix));
  const lease = electsLeader(plan) ? { namespace: await env.cluster.createNamespace(`${prefix}-lease`), name: LEASE_NAME } : undefined;
  const args = operatorArgs(plan, namespaces, lease);
  const port = Number(new URL(env.cp.server).port);
  const replicas = await Replicas.start(plan.replicas, port, (_slot, server) =>
    startOperator(env, args, { kubeconfig: env.cp.kubeconfigFor({ server }) }),
  );
  const name = combinationName(plan, count > 1);
  const group = { plan, name, namespaces, lease, replicas, eventsRefusedFrom: new Map<string, number>(), connectionsAtStart: 0 };
  return { ...group, faults: faultsFor(env, truth, prng.fork(`faults:${name}`), group) };
}

function faultsFor(env: TestEnv, truth: EtcdHistory, prng: Prng, group: Omit<Group, 'faults'>): ScheduledFaults<string> {
  const proxies = group.replicas.proxies;
  switch (group.plan.fault) {
    case 'cut':
    case 'stall':
      return new FaultInjector(group.plan.fault, prng, { cp: env.cp, proxies });
    case 'restart':
      return new FaultInjector('kill', prng, { cp: env.cp, proxies });
    case 'compaction':
      return new FaultInjector('compaction', prng, { cp: env.cp, proxies, truth });
    default:
      return new ReplicaFaults(group.plan.fault, prng, {
        replicas: group.replicas,
        leader: () => leaderOf(group),
        cluster: env.cluster,
        lease: group.lease ?? { namespace: group.namespaces[0] as string, name: LEASE_NAME },
        leaseDurationMs: FAST_LEASE_MS,
        retryPeriodMs: FAST_RETRY_MS,
      });
  }
}

function connections(group: Group): number {
  return group.replicas.proxies.reduce((n, p) => n + p.connections, 0);
}

// --- the end: every namespace deleted as the namespace controller would, with one more fault ---

/**
 * What kube-controller-manager's namespace controller does, done by hand, as 1.20's control plane runs none (where
 * one runs, it deletes the same members first, and each delete answered 404 counts as done): each namespace is
 * marked for deletion (from then on it refuses new Events), its members are deleted, and it is finalized once they
 * are gone. The group meets one more fault of its kind, and the members go while it lasts:
 * from up to half a second after it struck, one after the other, two at a time, over two or three seconds, so that
 * goodbyes are in flight through the whole of it (two leaders at once after a Lease deletion last a fraction of a
 * second, for instance).
 */
async function deleteNamespaces(env: TestEnv, group: Group, members: readonly StoredChange[], prng: Prng): Promise<void> {
  for (const namespace of group.namespaces) {
    group.eventsRefusedFrom.set(namespace, Date.now());
    await settle(() => env.cluster.core.deleteNamespace({ name: namespace }), 300);
  }
  const fault = group.faults.inject(() => sleep(2_000));
  await sleep(prng.int(0, 500));
  const queue = members.map((m) => ({ member: m, pause: prng.int(0, 300), order: prng.next() })).sort((a, b) => a.order - b.order);
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const { namespace, name } = next.member;
      await settle(() => env.deleteMember(namespace, name).catch(ignoreNotFound), 300);
      await sleep(next.pause);
    }
  };
  await Promise.all([worker(), worker()]);
  await fault;
}

function ignoreNotFound(err: unknown): void {
  if ((err as { code?: number }).code !== 404) throw err;
}

async function finalizeNamespaces(env: TestEnv, group: Group): Promise<void> {
  for (const name of group.namespaces) {
    await env.cluster.core.replaceNamespaceFinalize({ name, body: { metadata: { name }, spec: { finalizers: [] } } }).catch(ignoreNotFound);
  }
}

async function readEvents(env: TestEnv, group: Group, into: Map<string, KubeEvent>): Promise<void> {
  for (const namespace of group.namespaces) {
    const list = await settle(() => env.cluster.core.listNamespacedEvent({ namespace }), 300);
    for (const event of list.items) into.set(`${namespace}/${event.metadata?.name ?? ''}`, event as unknown as KubeEvent);
  }
}

/** Waits until the Events of the group's namespaces have not changed for five seconds (their retries done), 30 s at most. */
async function eventsQuiet(env: TestEnv, group: Group, into: Map<string, KubeEvent>): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '';
  for (;;) {
    await readEvents(env, group, into);
    const now = [...into.values()].map((e) => `${e.metadata.name ?? ''}:${e.count ?? 0}`).join();
    if (now === last || Date.now() > deadline) return;
    last = now;
    await sleep(5_000);
  }
}

// --- checks of the processes ---

function logsOf(group: Group): ProcessLog[] {
  const processes = new Map<number, number>();
  return group.replicas.incarnations.map((incarnation) => {
    const nth = (processes.get(incarnation.slot) ?? 0) + 1;
    processes.set(incarnation.slot, nth);
    return { label: `replica ${incarnation.slot} process ${nth}`, lines: incarnation.process.entries(), killedAt: incarnation.killedAt };
  });
}

/** Every process the harness did not kill stopped cleanly on SIGTERM. */
async function exitProblems(group: Group): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, incarnation] of group.replicas.incarnations.entries()) {
    if (incarnation.killedAt !== undefined) continue;
    const result = await incarnation.process.cli.done;
    const last = incarnation.process.entries().at(-1)?.event;
    if (result.code !== 0 || last !== 'Stopped') {
      problems.push(
        `process ${i} (replica ${incarnation.slot}) ended with ${String(result.code ?? result.signal)}, last line ${String(last)}; stderr ends: ${result.stderr.slice(-400)}`,
      );
    }
  }
  return problems;
}

/** A fault that changed nothing would make the combination pass without testing it: what each kind must have done. */
const BITES: Partial<Record<OperatorFault, [string, (felt: Felt) => boolean]>> = {
  stall: ['the stalls held no traffic', (f) => f.stalled > 0],
  cut: ['no new connection after the cuts', (f) => f.newConnections > 0],
  compaction: ['no relist after the compactions', (f) => f.said('Relisting') > 0],
  restart: ['no reconnect after the restarts', (f) => f.said('Reconnecting') > 0],
  partition: ['the partitions met no traffic', (f) => f.stalled > 0 || f.said('StoppedLeading') > 0 || f.said('Reconnecting') > 0],
};

interface Felt {
  stalled: number;
  newConnections: number;
  said(event: string): number;
}

function unfelt(group: Group): string | undefined {
  const bite = BITES[group.plan.fault];
  const lines = group.replicas.incarnations.flatMap((i) => i.process.entries());
  const felt: Felt = {
    stalled: group.replicas.proxies.reduce((n, p) => n + p.stalled, 0),
    newConnections: connections(group) - group.connectionsAtStart,
    said: (event) => lines.filter((l) => l.event === event).length,
  };
  return bite === undefined || bite[1](felt) ? undefined : bite[0];
}

function keepEvidence(group: Group, truth: readonly StoredChange[], events: readonly KubeEvent[]): string {
  const dir = join(tmpdir(), `member-watch-operator-churn-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, group.name.replace(/[^a-z0-9]+/gi, '-'));
  for (const log of logsOf(group))
    writeFileSync(`${base}.${log.label.replace(/ /g, '-')}.ndjson`, log.lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const mine = truth.filter((c) => group.namespaces.includes(c.namespace));
  writeFileSync(`${base}.truth.ndjson`, mine.map((c) => JSON.stringify(c)).join('\n') + '\n');
  writeFileSync(`${base}.events.json`, JSON.stringify(events, null, 1));
  writeFileSync(`${base}.faults.txt`, group.faults.log.map((f) => f.detail).join('\n') + '\n');
  return base;
}

// --- one run ---

/** The groups' operators start on members already there, and are settled (all welcomed) before the churn. */
async function startGroups(env: TestEnv, truth: EtcdHistory, prng: Prng, plan: RunPlan, groups: Group[]): Promise<Churn> {
  for (const group of plan.groups) groups.push(await makeGroup(env, truth, prng, group, plan.namespaces));
  const namespaces = groups.flatMap((g) => g.namespaces);
  const churn = new Churn(env, { namespaces, names: plan.names, concurrency: plan.concurrency, prng: prng.fork('churn') });
  await churn.prefill(plan.prefill, namespaces);
  const holdings = new Holdings(truth);
  await Promise.all(
    groups.map((g) =>
      until(`${g.name} to welcome the first members`, () => holdings.update().settled(g.namespaces, g.plan.finalizer), 60_000),
    ),
  );
  for (const group of groups) group.connectionsAtStart = connections(group);
  return churn;
}

async function churnWithFaults(plan: RunPlan, churn: Churn, groups: readonly Group[], holdings: Holdings): Promise<void> {
  const stretch = plan.operations / (plan.faultsPerKind + 1);
  const recovered = (group: Group) => (since: number) =>
    until(`${group.name} to act again`, () => holdings.update().actedSince(group.namespaces, since), 60_000).then(() => undefined);
  const faults = Promise.all(groups.map((g) => g.faults.during(churn, stretch, plan.faultsPerKind, recovered(g))));
  await Promise.all([churn.run(plan.operations, faults), faults]);
}

/** How long each phase of a run took, for the report. */
class Phases {
  readonly took: string[] = [];
  private at = Date.now();

  done(phase: string): void {
    const now = Date.now();
    this.took.push(`${phase} ${((now - this.at) / 1000).toFixed(0)} s`);
    this.at = now;
  }
}

async function runAndCheck(env: TestEnv, truth: EtcdHistory, prng: Prng, plan: RunPlan): Promise<RunReport> {
  const groups: Group[] = [];
  const phases = new Phases();
  try {
    const churn = await startGroups(env, truth, prng, plan, groups);
    const holdings = new Holdings(truth);
    phases.done('start');
    await churnWithFaults(plan, churn, groups, holdings);
    phases.done('churn');
    const settledAt = await settleAll(groups, holdings, churn, truth);
    phases.done('settle');
    const events = groups.map(() => new Map<string, KubeEvent>());
    await Promise.all(groups.map((g, i) => eventsQuiet(env, g, events[i] as Map<string, KubeEvent>)));
    phases.done('Events');
    const members = (g: Group): StoredChange[] => holdings.update().members(g.namespaces);
    await Promise.all(groups.map((g) => deleteNamespaces(env, g, members(g), prng.fork(`goodbyes:${g.name}`))));
    await Promise.all(
      groups.map((g) => until(`${g.name}'s members to be gone`, () => holdings.update().members(g.namespaces).length === 0, SETTLE_MS)),
    );
    // Anything said twice would come now.
    await sleep(2_000);
    phases.done('namespaces deleted');
    await Promise.all(groups.map((g) => g.replicas.stop()));
    await Promise.all(groups.map((g, i) => readEvents(env, g, events[i] as Map<string, KubeEvent>)));
    await Promise.all(groups.map((g) => finalizeNamespaces(env, g)));
    phases.done('stop');
    const results: CombinationResult[] = [];
    for (const [i, group] of groups.entries()) {
      results.push(await verdictFor(group, truth, [...(events[i] as Map<string, KubeEvent>).values()], settledAt));
    }
    return { results, operations: churn.done, readBack: churn.unsure, phases: phases.took };
  } finally {
    await Promise.all(groups.map((g) => g.replicas.close()));
  }
}

/**
 * Waits until every group's members are as its operators want them (or gives up: the checker names what is not),
 * and returns the revision at which the end state is checked.
 */
async function settleAll(groups: readonly Group[], holdings: Holdings, churn: Churn, truth: EtcdHistory): Promise<number> {
  const settled = (g: Group): boolean => holdings.update().settled(g.namespaces, g.plan.finalizer);
  const calm = await Promise.all(groups.map((g) => until(`${g.name} to settle`, () => settled(g), SETTLE_MS)));
  const settledAt = truth.revision;
  // Where the operators settled, what each name holds is known twice: a disagreement is a broken truth, not a finding.
  const namespaces = groups.filter((_, i) => calm[i]).flatMap((g) => g.namespaces);
  assert.deepEqual(
    holdingsIn(holdings, namespaces),
    driverHoldingsIn(churn, namespaces),
    'etcd history and the churn driver disagree: the truth is broken',
  );
  return settledAt;
}

function holdingsIn(holdings: Holdings, namespaces: readonly string[]): Map<string, string | null> {
  const held = new Map<string, string | null>();
  for (const change of holdings.update().members(namespaces)) held.set(`${change.namespace}/${change.name}`, change.team);
  return held;
}

function driverHoldingsIn(churn: Churn, namespaces: readonly string[]): Map<string, string | null> {
  return new Map([...churn.holdings()].filter(([key]) => namespaces.includes(key.slice(0, key.indexOf('/')))));
}

async function verdictFor(group: Group, truth: EtcdHistory, events: KubeEvent[], settledAt: number): Promise<CombinationResult> {
  const verdict = checkOperator(truth.changes, logsOf(group), events, {
    namespaces: new Set(group.namespaces),
    finalizer: group.plan.finalizer,
    settledAt,
    eventsRefusedFrom: group.eventsRefusedFrom,
    answerWindowMs: ANSWER_WINDOW_MS,
  });
  verdict.problems.unshift(...(await exitProblems(group)));
  const notTested = unfelt(group);
  if (notTested !== undefined) verdict.problems.unshift(`the fault did not bite: ${notTested}`);
  const evidence = verdict.problems.length > 0 ? keepEvidence(group, truth.changes, events) : undefined;
  return { name: group.name, verdict, faults: group.faults.log, evidence };
}

// --- the suite ---

/** How big the operator's churn suite is. `rounds` of the replica and proxy faults, each with other replica counts. */
export interface OperatorChurnSize extends Omit<RunPlan, 'groups' | 'namespaces'> {
  rounds: number;
  timeoutMs: number;
}

const REPLICA_FAULTS: readonly OperatorFault[] = ['sigkill', 'cut', 'stall', 'sigstop', 'partition', 'lease'];

/**
 * Replica counts for one round of the replica and proxy faults, rotated by `turn`: each kind meets two different
 * counts (one per finalizer mode), and every count meets both modes. In a single round (CI) a partition or a Lease
 * fault always meets a standby (2 or 3 replicas): they are there to take over.
 */
function replicaPlans(turn: number, everyCount: boolean): GroupPlan[] {
  return REPLICA_FAULTS.flatMap((fault, i) => {
    const needsStandby = !everyCount && (fault === 'partition' || fault === 'lease');
    const count = (shift: number): number => (needsStandby ? 2 + ((turn + shift) % 2) : 1 + ((i + turn + shift) % 3));
    return [
      { fault, replicas: count(0), finalizer: true },
      { fault, replicas: count(1), finalizer: false },
    ];
  });
}

/**
 * The operator's churn suite. Replica and proxy faults run side by side, each combination over its own namespace
 * with its own replicas, proxies and Lease; a kube-apiserver restart reaches every client, so it has a run of its
 * own, over several namespaces watched at once; compaction needs a control plane without the watch cache.
 * OPERATOR_CHURN_SEED=N replays a run's plan.
 */
export function defineOperatorChurnSuite(size: OperatorChurnSize): void {
  const prng = Prng.fromEnv('OPERATOR_CHURN_SEED');
  const { timeoutMs, rounds, ...plan } = size;
  const turn = prng.fork('turn').int(0, 2);
  const single = (round: number, fault: OperatorFault, finalizer: boolean): GroupPlan => ({
    fault,
    replicas: 1 + ((turn + round + (finalizer ? 0 : 1)) % 3),
    finalizer,
  });

  describe('operator churn against the ground truth, with the watch cache', () => {
    const { env, truth } = useTruth();
    for (let round = 0; round < rounds; round++) {
      test(
        `replicas killed, frozen, partitioned, their connections cut and stalled, the Lease deleted or taken (round ${round + 1})`,
        { timeout: timeoutMs },
        async (t) => {
          const groups = replicaPlans(turn + round, rounds > 1);
          const report = await runAndCheck(env, truth(), prng.fork(`replicas:${round}`), { ...plan, groups, namespaces: 1 });
          await reportCombinations(t, prng, report);
        },
      );
      test(`kube-apiserver killed with SIGKILL and restarted, every namespace (round ${round + 1})`, { timeout: timeoutMs }, async (t) => {
        const groups = [single(round, 'restart', (turn + round) % 2 === 0)];
        const report = await runAndCheck(env, truth(), prng.fork(`restart:${round}`), { ...plan, groups, namespaces: 3 });
        await reportCombinations(t, prng, report);
      });
    }
  });

  describe('operator churn against the ground truth, without the watch cache', () => {
    const { env, truth } = useTruth({ watchCache: false });
    for (let round = 0; round < rounds; round++) {
      test(`etcd compacted past replicas that were cut off, every namespace (round ${round + 1})`, { timeout: timeoutMs }, async (t) => {
        const groups = [single(round, 'compaction', (turn + round) % 2 === 1)];
        const report = await runAndCheck(env, truth(), prng.fork(`compaction:${round}`), { ...plan, groups, namespaces: 3 });
        await reportCombinations(t, prng, report);
      });
    }
  });
}

const COLUMNS = [
  'members',
  'welcomes',
  'moves',
  'goodbyes',
  'logged',
  'recorded',
  'untold',
  'excused',
  'eventless',
  'repeated',
  'leaderships',
  'relists',
] as const;

/** Figures per combination (a markdown table, as docs/reliability.md shows them), then one subtest per combination. */
async function reportCombinations(t: TestContext, prng: Prng, report: RunReport): Promise<void> {
  t.diagnostic(`seed ${prng.seed} (OPERATOR_CHURN_SEED=${prng.seed} replays the same plan)`);
  t.diagnostic(`${report.operations} operations, ${report.readBack} failed or refused and read back; ${report.phases.join(', ')}`);
  t.diagnostic(`| combination | faults | ${COLUMNS.join(' | ')} | problems |`);
  for (const r of report.results) {
    const figures = COLUMNS.map((c) => r.verdict.figures[c]);
    t.diagnostic(`| ${r.name} | ${r.faults.length} | ${figures.join(' | ')} | ${r.verdict.problems.length} |`);
  }
  for (const r of report.results) t.diagnostic(`${r.name}: ${r.faults.map((f) => f.detail).join('; ')}`);
  for (const r of report.results) {
    await t.test(r.name, () => {
      const { problems } = r.verdict;
      const shown = problems.slice(0, 25).join('\n  ');
      const kept = r.evidence === undefined ? '' : `\n  logs, Events and truth kept in ${r.evidence}.*`;
      assert.equal(problems.length, 0, `OPERATOR_CHURN_SEED=${prng.seed}, ${r.name}: ${problems.length} problems\n  ${shown}${kept}`);
    });
  }
}
