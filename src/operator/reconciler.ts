import { setMaxListeners } from 'node:events';
import { ApiError } from '../kube/http.js';
import { Backoff, type BackoffOptions } from '../watcher/backoff.js';
import { type MemberEvent, memberKey } from '../watcher/events.js';
import type { MemberStore } from '../watcher/store.js';
import type { Announcement } from './announcement.js';
import { describeFailure } from './failures.js';
import type { OperatorMember } from './member.js';
import { type ActingScope, MemberWork, type MemberWorkDeps, NotActing, splitKey } from './member-work.js';

export type { ActingScope } from './member-work.js';

const RETRY: BackoffOptions = { initialMs: 500, maxMs: 60_000, healthyMs: Number.POSITIVE_INFINITY };
/** How long a stop gives the commits whose answers were lost to be settled by a read. */
const SETTLE_ON_STOP_MS = 5_000;

export interface ReconcilerOptions {
  useFinalizer: boolean;
  /** Members reconciled at once. */
  concurrency: number;
  retry?: BackoffOptions;
  now?: () => Date;
}

export interface ReconcilerHooks {
  /** An announcement this process made: log it, count it; `recorded`: by creating its Event. */
  announce(announcement: Announcement, recorded: boolean): void;
  /** The cluster refused an announcement's Event: its status (or finalizer) commits it instead. */
  eventRefused(announcement: Announcement, reason: string): void;
  /** A write to a member was accepted (undefined), or refused as not allowed (why). */
  wrote(refused: string | undefined): void;
  /** A reconcile failed and will be retried after delayMs. */
  failed(namespace: string, name: string, reason: string, delayMs: number): void;
  /** A reconcile ended (done or failed), after `seconds`. */
  finished(seconds: number): void;
}

/**
 * Brings every member to what the operator wants (MemberWork says how). Members are queued by key
 * (namespace/name): a key is queued once however many events arrive for it, a key whose reconcile is running is
 * run again afterwards, at most `concurrency` run at once, and a failed one is retried after its own backoff while
 * the others go on. A member whose last commit lost its answer is settled by a read also while this process does
 * not act: reads are not acts, and only the process that sent a commit can tell it in its log.
 */
export class Reconciler {
  private readonly queue = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly retries = new Map<string, { backoff: Backoff; timer: NodeJS.Timeout | undefined }>();
  /** The resourceVersions our own writes produced: their watch events bring nothing new. */
  private readonly echoes = new Map<string, string[]>();
  private readonly work: MemberWork;
  private scope: ActingScope | undefined;
  private draining = false;
  /** Aborts the reads that settle lost answers: at the end of a stop. */
  private readonly settling = new AbortController();
  private idle: (() => void) | undefined;

  private readonly store: MemberStore<OperatorMember>;

  constructor(
    deps: MemberWorkDeps,
    private readonly options: ReconcilerOptions,
    private readonly hooks: ReconcilerHooks,
  ) {
    this.store = deps.store;
    const now = options.now ?? ((): Date => new Date());
    this.work = new MemberWork(
      deps,
      { useFinalizer: options.useFinalizer, now },
      {
        announce: (a, recorded) => hooks.announce(a, recorded),
        eventRefused: (a, reason) => hooks.eventRefused(a, reason),
        wrote: (refused) => hooks.wrote(refused),
        echo: (key, resourceVersion) => this.echo(key, resourceVersion),
      },
    );
  }

  /** Members waiting or running, for tests and metrics. */
  get backlog(): number {
    return this.queue.size + this.running.size + this.retries.size;
  }

  /** Starts acting: every member known is looked at once, then every change. */
  start(scope: ActingScope): void {
    if (scope.signal.aborted || this.draining) return;
    // Every request under way listens to the scope's signal: as many as `concurrency`, plus the re-reads.
    setMaxListeners(2 * this.options.concurrency + 10, scope.signal);
    this.scope = scope;
    this.work.act(scope);
    this.echoes.clear();
    scope.signal.addEventListener('abort', () => this.stopActing(scope), { once: true });
    for (const member of this.store.values()) this.queue.add(memberKey(member.namespace, member.name));
    this.pump();
  }

  /**
   * Takes no new work from now on and resolves once the reconciles under way have finished; commits whose answers
   * were lost get one more read (within SETTLE_ON_STOP_MS) to be told.
   */
  async drain(): Promise<void> {
    this.draining = true;
    this.forgetQueued();
    for (const key of this.work.unsettled()) if (!this.running.has(key)) this.queue.add(key);
    const cutOff = setTimeout(() => this.settling.abort(), SETTLE_ON_STOP_MS);
    this.pump();
    if (this.running.size > 0) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
      });
    }
    clearTimeout(cutOff);
  }

  /** A watch event: queue the member, unless the event is the echo of our own write. */
  observe(event: MemberEvent<OperatorMember>): void {
    const { member } = event;
    const key = memberKey(member.namespace, member.name);
    if (event.type === 'DELETED') {
      this.echoes.delete(key);
      // A relist's deletion shows the member as last cached, not as it was deleted.
      this.work.gone(member, this.acting, event.source === 'watch');
      this.enqueue(key);
      return;
    }
    if (event.source === 'relist') this.echoes.delete(key);
    else if (this.isEcho(key, member.resourceVersion)) return;
    this.enqueue(key);
  }

  private get acting(): boolean {
    return this.scope !== undefined && !this.scope.signal.aborted && !this.draining;
  }

  /** Work for the key now: all of it while acting; only settling a lost answer otherwise. */
  private hasWork(key: string): boolean {
    return this.acting || (!this.draining && this.work.isUnsettled(key));
  }

  private enqueue(key: string): void {
    if (!this.hasWork(key)) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    const retry = this.retries.get(key);
    if (retry?.timer !== undefined) {
      // News about a member waiting to retry: look now, keeping its backoff in case it fails again.
      clearTimeout(retry.timer);
      retry.timer = undefined;
    }
    this.queue.add(key);
    this.pump();
  }

  private pump(): void {
    while (this.running.size < this.options.concurrency && this.queue.size > 0) {
      const key = this.queue.values().next().value as string;
      this.queue.delete(key);
      // Never two reconciles of one member at once (two settles of one lost answer would both tell it): after it.
      if (this.running.has(key)) {
        this.dirty.add(key);
        continue;
      }
      this.running.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    const started = performance.now();
    try {
      const unsettled = this.work.isUnsettled(key);
      await this.work.settle(key, this.acting ? this.scope?.signal : this.settling.signal);
      if (this.acting) await this.work.reconcile(key, unsettled);
      const retry = this.retries.get(key);
      clearTimeout(retry?.timer);
      this.retries.delete(key);
    } catch (err) {
      if (!(err instanceof NotActing) && this.hasWork(key)) this.retryLater(key, err);
    } finally {
      this.hooks.finished((performance.now() - started) / 1000);
      this.running.delete(key);
      if (this.dirty.delete(key) && !this.caughtUp(key)) this.enqueue(key);
      this.pump();
      if (this.running.size === 0) this.idle?.();
    }
  }

  private retryLater(key: string, err: unknown): void {
    let retry = this.retries.get(key);
    if (retry === undefined) {
      retry = { backoff: new Backoff(this.options.retry ?? RETRY), timer: undefined };
      this.retries.set(key, retry);
    }
    const entry = retry;
    const delayMs = entry.backoff.next(err instanceof ApiError ? err.retryAfterSeconds : undefined);
    const [namespace, name] = splitKey(key);
    this.hooks.failed(namespace, name, describeFailure(err), delayMs);
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.enqueue(key);
    }, delayMs);
  }

  private stopActing(scope: ActingScope): void {
    if (this.scope !== scope) return;
    this.scope = undefined;
    this.work.act(undefined);
    this.forgetQueued();
    // The answers lost when the term ended are settled from here on, as a standby.
    for (const key of this.work.unsettled()) this.enqueue(key);
  }

  private forgetQueued(): void {
    this.queue.clear();
    this.dirty.clear();
    for (const retry of this.retries.values()) clearTimeout(retry.timer);
    this.retries.clear();
  }

  /**
   * Whether the watch has brought nothing since our last write: the events that arrived during the reconcile
   * may have been its echoes, come before the write's own answer. Writes are conditional, so any other change
   * before ours would have failed ours; a change after ours leaves the cache at a version that is not ours.
   */
  private caughtUp(key: string): boolean {
    if (this.work.isUnsettled(key)) return false;
    const [namespace, name] = splitKey(key);
    const cached = this.store.get(namespace, name);
    return cached !== undefined && this.isEcho(key, cached.resourceVersion);
  }

  private echo(key: string, resourceVersion: string): void {
    const list = this.echoes.get(key);
    if (list === undefined) this.echoes.set(key, [resourceVersion]);
    else list.push(resourceVersion);
  }

  private isEcho(key: string, resourceVersion: string): boolean {
    const list = this.echoes.get(key);
    const at = list?.indexOf(resourceVersion) ?? -1;
    if (list === undefined || at < 0) return false;
    // Events come in order: echoes before this one will not come any more.
    list.splice(0, at + 1);
    if (list.length === 0) this.echoes.delete(key);
    return true;
  }
}
