// 6. Reconcile throughput: N members created at once; time until every one has its welcome logged, its status written
// and its Event recorded, and the API requests made per member, for `member-watch operator` and the peer.
import { type AuditedRequest, collectRequests, permissionOf } from '../test/harness/audit.js';
import { median, memoryKiB, progress, sleep } from './lib.js';
import type { Operator, Operators } from './operators.js';

export type Tool = 'ours' | 'oursNoFinalizer' | 'peer';
export const TOOLS: readonly Tool[] = ['ours', 'oursNoFinalizer', 'peer'];

export interface ReconcileRun {
  /** ms from the first create sent until the last of the three below. */
  total: number;
  welcomes: number;
  statuses: number;
  events: number;
  /**
   * Requests made from the first create on, per member: all, and writes (create, update, patch, delete). The Lease's
   * renewals are not work per member: they are counted apart.
   */
  requestsPerMember: number;
  writesPerMember: number;
  /** `verb resource` → requests per member, writes only. */
  writes: Record<string, number>;
  leaseRequests: number;
  /** Peak RSS of the process, KiB (VmHWM). */
  peakRssKiB: number;
  /** Writes the operator gave up on (the peer does not retry): members left without a status, or without an Event. */
  lostStatuses: number;
  lostEvents: number;
  /** The first reason a write was given up for. */
  lossReason: string;
}

export interface ReconcileResult {
  members: number;
  runs: Record<Tool, ReconcileRun[]>;
  /** The namespace of ours' last run: every member welcomed, for the idle measurement. */
  settledNamespace: string;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete']);
const TIMEOUT_MS = 600_000;

function ok(r: AuditedRequest): boolean {
  const code = r.responseStatus?.code ?? 0;
  return r.stage === 'ResponseComplete' && code >= 200 && code < 300;
}

function at(r: AuditedRequest): number {
  return Date.parse(r.stageTimestamp);
}

/** What the audit log says about one run, as it grows. */
class RunLedger {
  readonly requests = new Map<string, AuditedRequest>();
  readonly statusWritten = new Set<string>();
  eventsRecorded = 0;
  lastStatus = 0;
  lastEvent = 0;

  constructor(
    private readonly user: string,
    private readonly since: number,
  ) {}

  add(events: AuditedRequest[]): void {
    const mine = events.filter((e) => e.user.username === this.user && Date.parse(e.requestReceivedTimestamp) >= this.since);
    for (const r of collectRequests(this.requests, mine)) {
      if (!ok(r)) continue;
      const ref = r.objectRef;
      if (ref?.resource === 'members' && ref.subresource === 'status' && ref.name !== undefined) {
        this.statusWritten.add(ref.name);
        this.lastStatus = Math.max(this.lastStatus, at(r));
      } else if (ref?.resource === 'events' && r.verb === 'create') {
        this.eventsRecorded += 1;
        this.lastEvent = Math.max(this.lastEvent, at(r));
      }
    }
  }
}

/** What the operator's log says: welcomes, and writes it gave up on. */
interface LogTally {
  welcomes: number;
  lastWelcome: number;
  lostStatuses: number;
  lostEvents: number;
  lossReason: string;
}

function start(ops: Operators, tool: Tool, namespace: string, tally: LogTally): Promise<Operator> {
  const onLine = (line: string): void => {
    const lost = /^failed (status|event) of \S+: (.*)$/.exec(line);
    if (lost !== null) {
      if (lost[1] === 'status') tally.lostStatuses += 1;
      else tally.lostEvents += 1;
      tally.lossReason ||= lost[2] ?? '';
    } else if (line.includes('welcome ')) {
      tally.welcomes += 1;
      tally.lastWelcome = Date.now();
    }
  };
  if (tool === 'peer') return Promise.resolve(ops.startPeer(namespace, onLine));
  return ops.startOurs(namespace, `bench-${tool}`, onLine, tool === 'oursNoFinalizer' ? ['--no-finalizer'] : []);
}

async function waitForLeader(ops: Operators, tool: Tool): Promise<void> {
  if (tool === 'peer') return;
  const deadline = Date.now() + 60_000;
  while ((await ops.leaseHolder()) !== `bench-${tool}`) {
    if (Date.now() > deadline) throw new Error(`bench-${tool} did not lead within 60 s`);
    await sleep(50);
  }
}

async function oneRun(ops: Operators, tool: Tool, count: number): Promise<{ run: ReconcileRun; namespace: string }> {
  const namespace = await ops.cluster.newNamespace(`reconcile-${tool === 'peer' ? 'peer' : 'ours'}`);
  const tally: LogTally = { welcomes: 0, lastWelcome: 0, lostStatuses: 0, lostEvents: 0, lossReason: '' };
  const op = await start(ops, tool, namespace, tally);
  try {
    await op.ready();
    await waitForLeader(ops, tool);
    ops.audit.skip();
    const t0 = Date.now();
    const ledger = new RunLedger(tool === 'peer' ? ops.peerUser : ops.oursUser, t0);
    await ops.cluster.createMembers(namespace, count);
    const done = (): boolean =>
      tally.welcomes >= count &&
      ledger.statusWritten.size + tally.lostStatuses >= count &&
      ledger.eventsRecorded + tally.lostEvents >= count;
    while (!done()) {
      if (Date.now() - t0 > TIMEOUT_MS) {
        const got = `${tally.welcomes} welcomes, ${ledger.statusWritten.size} statuses, ${ledger.eventsRecorded} events`;
        throw new Error(`${tool}: ${got} after ${TIMEOUT_MS} ms`);
      }
      await sleep(100);
      ledger.add(ops.audit.read());
    }
    // requests that were still on their way count too
    await sleep(1000);
    ledger.add(ops.audit.read());
    return { run: summarize(ledger, count, { t0, tally, peakRssKiB: memoryKiB(op.pid).peak }), namespace };
  } finally {
    await op.stop('SIGTERM');
  }
}

function summarize(ledger: RunLedger, count: number, t: { t0: number; tally: LogTally; peakRssKiB: number }): ReconcileRun {
  const all = [...ledger.requests.values()];
  const requests = all.filter((r) => r.objectRef?.resource !== 'leases');
  const writeRequests = requests.filter((x) => WRITE_VERBS.has(x.verb));
  const writes: Record<string, number> = {};
  for (const r of writeRequests) writes[permissionOf(r)] = (writes[permissionOf(r)] ?? 0) + 1 / count;
  const welcomes = t.tally.lastWelcome - t.t0;
  const statuses = ledger.lastStatus - t.t0;
  const events = ledger.lastEvent - t.t0;
  return {
    total: Math.max(welcomes, statuses, events),
    welcomes,
    statuses,
    events,
    requestsPerMember: requests.length / count,
    writesPerMember: writeRequests.length / count,
    writes,
    leaseRequests: all.length - requests.length,
    peakRssKiB: t.peakRssKiB,
    lostStatuses: t.tally.lostStatuses,
    lostEvents: t.tally.lostEvents,
    lossReason: t.tally.lossReason,
  };
}

export async function measureReconcile(ops: Operators, count: number, runs: number): Promise<ReconcileResult> {
  const result: ReconcileResult = { members: count, runs: { ours: [], oursNoFinalizer: [], peer: [] }, settledNamespace: '' };
  for (let run = 0; run < runs; run++) {
    // a rotating order, so that no tool always runs on the warmest (or the most loaded) API server
    const order = TOOLS.map((_, i) => TOOLS[(i + run) % TOOLS.length] as Tool);
    for (const tool of order) {
      const { run: r, namespace } = await oneRun(ops, tool, count);
      result.runs[tool].push(r);
      if (tool === 'ours') result.settledNamespace = namespace;
      progress(
        `reconcile N=${count} ${tool} run ${run + 1}: ${r.total} ms (welcomes ${r.welcomes}, status ${r.statuses}, events ${r.events}), ` +
          `${r.requestsPerMember.toFixed(2)} requests and ${r.writesPerMember.toFixed(2)} writes per member, ` +
          `${r.leaseRequests} Lease requests, ${r.lostStatuses} statuses and ${r.lostEvents} Events lost${r.lossReason ? ` (${r.lossReason})` : ''}, ` +
          `peak RSS ${r.peakRssKiB} KiB`,
      );
    }
  }
  return result;
}

/** The median run of a tool by total time, so the figures in one row come from one run. */
export function medianRun(runs: ReconcileRun[]): ReconcileRun | undefined {
  const total = median(runs.map((r) => r.total));
  return [...runs].sort((a, b) => Math.abs(a.total - total) - Math.abs(b.total - total))[0];
}
