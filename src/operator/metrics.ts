import type { EventType } from '../watcher/events.js';
import type { MemberStore } from '../watcher/store.js';
import type { AnnouncementKind } from './announcement.js';
import type { OperatorMember } from './member.js';

/** What the operator counts. The code counts through this; with --metrics-bind-address 0 nothing is loaded. */
export interface OperatorMetrics {
  watchEvent(type: EventType): void;
  announced(kind: AnnouncementKind): void;
  kubeEvent(result: 'recorded' | 'refused'): void;
  writesRefused(refused: boolean): void;
  reconnected(): void;
  relisted(): void;
  leader(leading: boolean): void;
  reconcileFailed(): void;
  reconciled(seconds: number): void;
}

export const NO_METRICS: OperatorMetrics = {
  watchEvent: () => undefined,
  announced: () => undefined,
  kubeEvent: () => undefined,
  writesRefused: () => undefined,
  reconnected: () => undefined,
  relisted: () => undefined,
  leader: () => undefined,
  reconcileFailed: () => undefined,
  reconciled: () => undefined,
};

export interface Exposition {
  contentType: string;
  text(): Promise<string>;
}

const PREFIX = 'member_watch_';

/**
 * The metrics in Prometheus' text format, with prom-client (loaded here, on first use, so that other commands
 * never load it), in a registry of their own, with the Node.js process metrics every Node exporter has.
 */
export async function prometheusMetrics(
  store: MemberStore<OperatorMember>,
  leaseName: string | undefined,
): Promise<{ metrics: OperatorMetrics; exposition: Exposition }> {
  const loaded = await import('prom-client');
  // A CommonJS module: bundled, its exports arrive as `default` only.
  const prom = ('default' in loaded ? loaded.default : loaded) as typeof loaded;
  const registry = new prom.Registry();
  const registers = [registry];
  prom.collectDefaultMetrics({ register: registry });
  new prom.Gauge({
    name: `${PREFIX}members`,
    help: 'Members in the watch cache, per namespace.',
    labelNames: ['namespace'],
    registers,
    collect(): void {
      this.reset();
      for (const [namespace, count] of store.namespaceSizes()) this.set({ namespace }, count);
    },
  });
  const watchEvents = new prom.Counter({
    name: `${PREFIX}watch_events_total`,
    help: 'Watch events received, by type.',
    labelNames: ['type'],
    registers,
  });
  const announcements = new prom.Counter({
    name: `${PREFIX}announcements_total`,
    help: 'Messages committed and logged (welcomes, team moves, goodbyes), by Event reason.',
    labelNames: ['event'],
    registers,
  });
  const kubeEvents = new prom.Counter({
    name: `${PREFIX}kube_events_total`,
    help: 'Announcement Events created by this process (recorded), or refused by the cluster (refused: the member records the announcement alone).',
    labelNames: ['result'],
    registers,
  });
  const writesRefused = new prom.Gauge({
    name: `${PREFIX}writes_refused`,
    help: 'Whether the API server refuses (401, 403) every write to members since the last one it accepted: 1, else 0.',
    registers,
  });
  const reconnects = new prom.Counter({ name: `${PREFIX}reconnects_total`, help: 'Watch reconnects after a failure.', registers });
  const relists = new prom.Counter({
    name: `${PREFIX}relists_total`,
    help: 'Relists after the watch fell too far behind (410 Gone).',
    registers,
  });
  const leader = new prom.Gauge({
    name: `${PREFIX}leader`,
    help: 'Whether this process is the one acting: 1 while leading (always 1 without leader election once started), else 0.',
    labelNames: ['lease'],
    registers,
  });
  const errors = new prom.Counter({ name: `${PREFIX}reconcile_errors_total`, help: 'Reconciles that failed and were retried.', registers });
  const latency = new prom.Histogram({
    name: `${PREFIX}reconcile_duration_seconds`,
    help: 'Time to reconcile one member, writes included.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  // Every series exists from the start at 0: a rate over a counter that appears late misses its first step.
  for (const type of ['ADDED', 'MODIFIED', 'DELETED']) watchEvents.inc({ type }, 0);
  for (const event of ['Welcomed', 'Moved', 'Farewell']) announcements.inc({ event }, 0);
  for (const result of ['recorded', 'refused']) kubeEvents.inc({ result }, 0);
  writesRefused.set(0);
  const lease = { lease: leaseName ?? '' };
  leader.set(lease, 0);
  return {
    metrics: {
      watchEvent: (type) => watchEvents.inc({ type }),
      announced: (event) => announcements.inc({ event }),
      kubeEvent: (result) => kubeEvents.inc({ result }),
      writesRefused: (refused) => writesRefused.set(refused ? 1 : 0),
      reconnected: () => reconnects.inc(),
      relisted: () => relists.inc(),
      leader: (leading) => leader.set(lease, leading ? 1 : 0),
      reconcileFailed: () => errors.inc(),
      reconciled: (seconds) => latency.observe(seconds),
    },
    exposition: { contentType: registry.contentType, text: () => registry.metrics() },
  };
}
