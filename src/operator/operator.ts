import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kube } from '../kube/client.js';
import { members } from '../members/names.js';
import { announcementText, type OperatorLog } from '../present/operator-log.js';
import { makeChalk } from '../present/style.js';
import { describeFailure, Outage, RELISTING, skippedText, WAITING_FOR_CRD } from '../present/watch-notices.js';
import type { WatcherStatus } from '../watcher/events.js';
import { MemberStore } from '../watcher/store.js';
import { watchProjected } from '../watcher/watcher.js';
import type { Announcement } from './announcement.js';
import { AnnouncementEvents, INSTANCE_MAX } from './announcement-events.js';
import { type BindAddress, type Endpoint, serveMetrics, serveProbes } from './endpoints.js';
import { LeaderElector, type LeaderElectionConfig, type LeaderHooks, RELEASED } from './leader.js';
import { operatorMember, type OperatorMember } from './member.js';
import { NO_METRICS, type OperatorMetrics, prometheusMetrics } from './metrics.js';
import { requireStatusSubresource } from './preflight.js';
import { Reconciler } from './reconciler.js';

export interface OperatorOptions {
  /** undefined: every namespace. */
  namespace: string | undefined;
  identity: string;
  useFinalizer: boolean;
  concurrency: number;
  watchTimeoutSeconds: number;
  /** Lists as a watch stream where the server serves one (see WatchOptions). */
  streamLists: boolean;
  /** undefined: this process acts alone, without a Lease. */
  leaderElection: LeaderElectionConfig | undefined;
  probes: BindAddress | undefined;
  metrics: BindAddress | undefined;
}

/** Without leader election, how long a stop waits for writes under way before it cuts them off. */
const DRAIN_MS = 10_000;
const PLAIN = makeChalk(0);
/** The WritesRefused line, at most this often. */
const REFUSAL_LOG_MS = 60_000;

/**
 * client-go's convention: the pod's name (POD_NAME from the downward API) or the host name, made unique. Cut so that
 * the whole fits an Event's reportingInstance (128 characters) with its UUID: that is how a process knows its own Events.
 */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const uuid = randomUUID();
  return `${(env.POD_NAME || hostname()).slice(0, INSTANCE_MAX - uuid.length - 1)}_${uuid}`;
}

/**
 * `member-watch operator`: watches Members (every replica keeps a warm cache), and while it may act — always
 * without leader election, while it holds the Lease with it — welcomes, moves and sees off members, recording
 * each announcement in the member's status before logging it. Resolves after a clean stop (`stop` aborted);
 * rejects with the failure that ended it (a refused watch or Lease, for example).
 */
export async function runOperator(kube: Kube, log: OperatorLog, options: OperatorOptions, stop: AbortSignal): Promise<void> {
  const operator = new Operator(kube, log, options);
  await operator.run(stop);
}

class Operator {
  private readonly store = new MemberStore<OperatorMember>();
  private metrics: OperatorMetrics = NO_METRICS;
  private readonly endpoints: Endpoint[] = [];
  private readonly reconciler: Reconciler;
  private readonly elector: LeaderElector | undefined;
  private readonly watchStop = new AbortController();
  private readonly alone = new AbortController();
  private synced = false;
  private markSynced: () => void = () => undefined;
  private readonly whenSynced = new Promise<void>((resolve) => {
    this.markSynced = resolve;
  });
  /** Listed, and the CRD can hold what the operator records: acting may start. Rejects if it cannot. */
  private readonly whenReady = this.whenSynced.then(() => requireStatusSubresource(this.kube));
  private stopping = false;
  private readonly outage = new Outage();
  /** Whether the watch streams now; while it does not, the cache may miss what the last leader did. */
  private watchLive = false;
  private readonly liveWaiters = new Set<() => void>();
  /** Why every write since the last accepted one was refused (401, 403); undefined while writes go through. */
  private refused: string | undefined;
  /** performance.now() of the last WritesRefused line. */
  private refusalSaid = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly kube: Kube,
    private readonly log: OperatorLog,
    private readonly options: OperatorOptions,
  ) {
    const events = new AnnouncementEvents(kube, options.identity, (a) => announcementText(a, { chalk: PLAIN, qualified: false }));
    this.reconciler = new Reconciler(
      { kube, events, store: this.store },
      { useFinalizer: options.useFinalizer, concurrency: options.concurrency },
      {
        announce: (a, recorded) => this.announce(a, recorded),
        eventRefused: (a, reason) => this.eventRefused(a, reason),
        wrote: (refused) => this.wrote(refused),
        failed: (namespace, name, reason, delayMs) => {
          this.metrics.reconcileFailed();
          this.log.warn(`could not reconcile ${namespace}/${name}, retrying in ${seconds(delayMs)}: ${reason}`, {
            event: 'ReconcileError',
            namespace,
            name,
          });
        },
        finished: (s) => this.metrics.reconciled(s),
      },
    );
    const election = options.leaderElection;
    this.elector = election === undefined ? undefined : new LeaderElector(kube.withOwnConnections(), election, this.leaderHooks(election));
  }

  async run(stop: AbortSignal): Promise<void> {
    this.logStart();
    await this.openEndpoints();
    const watching = this.watch();
    const leading = this.elector?.run() ?? this.actAlone();
    const stopped = new Promise<void>((resolve) => {
      if (stop.aborted) resolve();
      stop.addEventListener('abort', () => resolve(), { once: true });
    });
    const unfit = new Promise<void>((_, reject) => this.whenReady.catch(reject));
    try {
      await Promise.race([watching, leading, stopped, unfit]);
    } finally {
      await this.shutdown(watching);
    }
  }

  /** Both or neither: a metrics server left listening after the probes failed to bind would keep the process alive. */
  private async openEndpoints(): Promise<void> {
    try {
      await this.serveEndpoints();
    } catch (err) {
      await Promise.all(this.endpoints.map((e) => e.close()));
      throw err;
    }
  }

  private async serveEndpoints(): Promise<void> {
    const { probes, metrics, leaderElection } = this.options;
    if (metrics !== undefined) {
      const prometheus = await prometheusMetrics(this.store, leaderElection && `${leaderElection.namespace}/${leaderElection.name}`);
      this.metrics = prometheus.metrics;
      const endpoint = await serveMetrics(metrics, prometheus.exposition);
      this.endpoints.push(endpoint);
      this.log.info(`serving metrics on ${endpoint.address}/metrics`, { event: 'Serving' });
    }
    if (probes !== undefined) {
      const endpoint = await serveProbes(probes, () => this.notReady());
      this.endpoints.push(endpoint);
      this.log.info(`serving probes on ${endpoint.address}/healthz and /readyz`, { event: 'Serving' });
    }
  }

  private notReady(): string | undefined {
    if (this.stopping) return 'stopping';
    if (this.refused !== undefined) return `the API server refuses the operator's writes to members: ${this.refused}`;
    return this.synced ? undefined : 'the members are not listed yet';
  }

  private logStart(): void {
    const { options } = this;
    const election = options.leaderElection;
    this.log.info('starting the member-watch operator', {
      event: 'Starting',
      identity: options.identity,
      watching: options.namespace ?? 'every namespace',
      finalizer: options.useFinalizer ? 'on' : 'off',
      lease: election === undefined ? 'none' : `${election.namespace}/${election.name}`,
    });
  }

  private watch(): Promise<void> {
    return watchProjected(
      this.kube,
      {
        namespace: this.options.namespace,
        greetExisting: true,
        waitForCrd: true,
        watchTimeoutSeconds: this.options.watchTimeoutSeconds,
        pageSize: 500,
        streamLists: this.options.streamLists,
        project: operatorMember,
        store: this.store,
      },
      {
        event: (event) => {
          this.metrics.watchEvent(event.type);
          this.reconciler.observe(event);
        },
        status: (status) => this.watcherStatus(status),
        backpressure: () => undefined,
      },
      this.watchStop.signal,
    );
  }

  private watcherStatus(status: WatcherStatus): void {
    switch (status.kind) {
      case 'listed':
        return this.log.info(`listed ${members(status.members)}`, { event: 'Listed' });
      case 'live':
        return this.live(status.first);
      case 'reconnecting':
        this.watchLive = false;
        this.outage.note(status.kind);
        this.metrics.reconnected();
        return this.log.warn(`reconnecting in ${seconds(status.delayMs)} (attempt ${status.attempt}): ${describeFailure(status.cause)}`, {
          event: 'Reconnecting',
        });
      case 'relisting':
        this.watchLive = false;
        this.outage.note(status.kind);
        this.metrics.relisted();
        return this.log.warn(RELISTING, { event: 'Relisting' });
      case 'waiting-for-crd':
        this.watchLive = false;
        this.outage.note(status.kind);
        return this.log.warn(WAITING_FOR_CRD, { event: 'WaitingForCRD' });
      case 'skipped':
        return this.log.warn(skippedText(status), { event: 'Skipped' });
      case 'connecting':
        return this.outage.note(status.kind);
    }
  }

  /** Live again after an outage is news; a watch the server ended on time and that resumed at once is not. */
  private live(first: boolean): void {
    this.watchLive = true;
    for (const resolve of this.liveWaiters) resolve();
    this.liveWaiters.clear();
    const where = this.options.namespace === undefined ? 'in every namespace' : `in namespace ${this.options.namespace}`;
    const recovered = this.outage.ended(where);
    if (!first) {
      if (recovered !== undefined) this.log.info(recovered, { event: 'Reconnected' });
      return;
    }
    this.synced = true;
    this.markSynced();
    this.log.info(`watching members ${where}`, { event: 'Watching' });
  }

  /** Without leader election this process acts from the first complete list until it stops. */
  private async actAlone(): Promise<void> {
    await this.whenReady;
    if (this.alone.signal.aborted) return;
    this.metrics.leader(true);
    const { signal } = this.alone;
    this.reconciler.start({ signal, mayAct: () => true });
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  private whenLive(): Promise<void> {
    if (this.watchLive) return Promise.resolve();
    return new Promise((resolve) => this.liveWaiters.add(resolve));
  }

  private leaderHooks(election: LeaderElectionConfig): LeaderHooks {
    const lease = `${election.namespace}/${election.name}`;
    return {
      startedLeading: (signal) => {
        this.metrics.leader(true);
        this.log.info('leading', { event: 'Leading', lease, identity: election.identity });
        // A term acts on the cache: one whose watch is down may not show what the last leader did (a member it let
        // go unwelcomed would be welcomed after it is gone), so the term waits until the watch streams again.
        void this.whenReady
          .then(() => this.whenLive())
          .then(
            () => {
              if (!signal.aborted) this.reconciler.start({ signal, mayAct: () => this.elector?.mayAct() === true });
            },
            () => undefined,
          );
      },
      stoppedLeading: (reason) => {
        this.metrics.leader(false);
        // A standby writes nothing: whether its writes would be refused is not known.
        this.wrote(undefined);
        const released = reason === RELEASED;
        this.log[released ? 'info' : 'warn'](`stopped leading: ${reason}`, { event: 'StoppedLeading', lease });
      },
      newLeader: (identity) =>
        this.log.info(identity === undefined ? 'the lease is free' : 'standing by', {
          event: 'LeaderChanged',
          lease,
          leader: identity ?? null,
        }),
      tryFailed: (reason) => this.log.warn(`lease ${lease}: ${reason}`, { event: 'LeaseError', lease }),
    };
  }

  private announce(announcement: Announcement, recorded: boolean): void {
    this.log.announce(announcement);
    this.metrics.announced(announcement.kind);
    if (recorded) this.metrics.kubeEvent('recorded');
  }

  private eventRefused(announcement: Announcement, reason: string): void {
    const { namespace, name } = announcement.member;
    this.metrics.kubeEvent('refused');
    this.log.warn(`the cluster refused the ${announcement.kind} Event of ${namespace}/${name}, the member records it alone: ${reason}`, {
      event: 'EventRefused',
      namespace,
      name,
    });
  }

  /**
   * The first refusal of a row is said with the way out (at most once a REFUSAL_LOG_MS, as rights that allow some
   * writes and not others make rows start often); readiness and a metric tell until a write goes through.
   */
  private wrote(refused: string | undefined): void {
    const before = this.refused;
    this.refused = refused;
    this.metrics.writesRefused(refused !== undefined);
    if (refused === undefined || before !== undefined || performance.now() - this.refusalSaid < REFUSAL_LOG_MS) return;
    this.refusalSaid = performance.now();
    this.log.error(
      `the API server refuses the operator's writes to members (${refused}): members wait until its Role allows patch on members and members/status; deleted members stay Terminating meanwhile, and \`member-watch release-finalizers\` lets them go`,
      { event: 'WritesRefused' },
    );
  }

  /**
   * Work under way is finished first (a leader keeps renewing meanwhile, so it is bounded by the renew deadline),
   * with the commits whose answers were lost, then the Lease is released so a standby takes over at once.
   */
  private async shutdown(watching: Promise<void>): Promise<void> {
    this.stopping = true;
    this.log.info('stopping', { event: 'Stopping' });
    await this.drainReconciles();
    this.watchStop.abort();
    await watching.catch(() => undefined);
    await this.elector?.stop();
    this.alone.abort();
    await Promise.all(this.endpoints.map((e) => e.close()));
    this.log.info('stopped', { event: 'Stopped' });
  }

  private async drainReconciles(): Promise<void> {
    const drained = this.reconciler.drain();
    if (this.elector !== undefined) return drained;
    await Promise.race([drained, sleep(DRAIN_MS, undefined, { ref: false })]);
    this.alone.abort();
    await drained;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
