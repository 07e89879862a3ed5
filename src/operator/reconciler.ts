import { setMaxListeners } from 'node:events';
import type { Kube } from '../kube/client.js';
import { ApiError } from '../kube/http.js';
import { FINALIZER, type MemberObject, memberPath } from '../members/resource.js';
import { Backoff, type BackoffOptions } from '../watcher/backoff.js';
import { type MemberEvent, memberKey } from '../watcher/events.js';
import type { MemberStore } from '../watcher/store.js';
import type { Announcement } from './announcement.js';
import { describeFailure, outcomeUnknown } from './failures.js';
import { type Action, decide, holdsFinalizer, type OperatorMember, operatorMember, welcomed } from './member.js';

const MERGE_PATCH = 'application/merge-patch+json';
/**
 * The operator's own field manager: apply-member's server-side applies (manager member-watch) must keep owning
 * spec, so that an apply without --team still removes the team after the operator wrote the same object.
 */
const OPERATOR_FIELD_MANAGER = 'member-watch-operator';
/** Writes and re-reads in one reconcile before it counts as failed: a member that never settles must not hold a worker. */
const MAX_STEPS = 10;
const RETRY: BackoffOptions = { initialMs: 500, maxMs: 60_000, healthyMs: Number.POSITIVE_INFINITY };

/** While this process may act: the leader's term, or the whole run without leader election. */
export interface ActingScope {
  signal: AbortSignal;
  /** Checked before every write, so that a late timer cannot let a write out after the renew deadline. */
  mayAct(): boolean;
}

export interface ReconcilerOptions {
  useFinalizer: boolean;
  /** Members reconciled at once. */
  concurrency: number;
  retry?: BackoffOptions;
  now?: () => Date;
}

export interface ReconcilerHooks {
  /** A committed announcement: log it, count it, record its Event. */
  announce(announcement: Announcement): void;
  /** A reconcile failed and will be retried after delayMs. */
  failed(namespace: string, name: string, reason: string, delayMs: number): void;
  /** A reconcile ended (done or failed), after `seconds`. */
  finished(seconds: number): void;
}

/** A write that may or may not have been applied (no answer came): settled by the next fresh read of the member. */
interface Uncertain {
  action: Action;
  uid: string;
  /** The precondition it carried: while the member is still at this version, the write may yet land. */
  resourceVersion: string;
  announcement: Announcement;
}

class NotActing extends Error {
  constructor() {
    super('not acting');
    this.name = 'NotActing';
  }
}

/**
 * Brings every member to what the operator wants, one write at a time, each write conditional on the
 * resourceVersion the decision was made from (optimistic concurrency). The status write (or, for a goodbye,
 * the removal of the finalizer) is the commit point of an announcement: it succeeds for exactly one writer, and
 * only then is the line logged. A 409 means the member changed: it is read again and decided anew.
 *
 * Members are queued by key (namespace/name): a key is queued once however many events arrive for it, a key
 * whose reconcile is running is run again afterwards, at most `concurrency` run at once, and a failed one is
 * retried after its own backoff while the others go on.
 */
export class Reconciler {
  private readonly queue = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly retries = new Map<string, { backoff: Backoff; timer: NodeJS.Timeout | undefined }>();
  /** The resourceVersions our own writes produced: their watch events bring nothing new. */
  private readonly echoes = new Map<string, string[]>();
  private readonly uncertain = new Map<string, Uncertain>();
  private scope: ActingScope | undefined;
  private draining = false;
  private idle: (() => void) | undefined;
  private readonly now: () => Date;

  constructor(
    private readonly kube: Kube,
    private readonly store: MemberStore<OperatorMember>,
    private readonly options: ReconcilerOptions,
    private readonly hooks: ReconcilerHooks,
  ) {
    this.now = options.now ?? ((): Date => new Date());
  }

  /** Members waiting or running, for tests and metrics. */
  get backlog(): number {
    return this.queue.size + this.running.size + this.retries.size;
  }

  /** Starts acting: every member known is looked at once, then every change. */
  start(scope: ActingScope): void {
    if (scope.signal.aborted) return;
    // Every request under way listens to the scope's signal: as many as `concurrency`, plus the re-reads.
    setMaxListeners(2 * this.options.concurrency + 10, scope.signal);
    this.scope = scope;
    this.echoes.clear();
    scope.signal.addEventListener('abort', () => this.stopActing(scope), { once: true });
    for (const member of this.store.values()) this.queue.add(memberKey(member.namespace, member.name));
    this.pump();
  }

  /** Takes no new work from now on and resolves once the reconciles under way have finished. */
  async drain(): Promise<void> {
    this.draining = true;
    this.forgetQueued();
    if (this.running.size === 0) return;
    await new Promise<void>((resolve) => {
      this.idle = resolve;
    });
  }

  /** A watch event: queue the member, unless the event is the echo of our own write. */
  observe(event: MemberEvent<OperatorMember>): void {
    const { member } = event;
    const key = memberKey(member.namespace, member.name);
    if (event.type === 'DELETED') {
      this.echoes.delete(key);
      this.gone(key, member);
      return;
    }
    if (event.source === 'relist') this.echoes.delete(key);
    else if (this.isEcho(key, member.resourceVersion)) return;
    this.enqueue(key);
  }

  private get acting(): boolean {
    return this.scope !== undefined && !this.scope.signal.aborted && !this.draining;
  }

  private enqueue(key: string): void {
    if (!this.acting) return;
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
    while (this.acting && this.running.size < this.options.concurrency && this.queue.size > 0) {
      const key = this.queue.values().next().value as string;
      this.queue.delete(key);
      this.running.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    const started = performance.now();
    try {
      await this.reconcile(key);
      const retry = this.retries.get(key);
      clearTimeout(retry?.timer);
      this.retries.delete(key);
    } catch (err) {
      if (this.acting && !(err instanceof NotActing)) this.retryLater(key, err);
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
    this.forgetQueued();
  }

  private forgetQueued(): void {
    this.queue.clear();
    this.dirty.clear();
    for (const retry of this.retries.values()) clearTimeout(retry.timer);
    this.retries.clear();
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace, name] = splitKey(key);
    // After a write whose answer was lost only a fresh read tells what became of it; the cache may be behind.
    let member = this.uncertain.has(key) ? await this.read(namespace, name) : this.store.get(namespace, name);
    for (let steps = 0; member !== undefined; steps += 1) {
      const action = decide(member, this.options.useFinalizer);
      if (action === undefined) return;
      if (steps >= MAX_STEPS) throw new Error(`${key} did not settle after ${MAX_STEPS} writes`);
      member = await this.step(member, action);
    }
  }

  /** One conditional write; returns the member as it is afterwards (undefined: gone). */
  private async step(member: OperatorMember, action: Action): Promise<OperatorMember | undefined> {
    const scope = this.actingScope();
    const key = memberKey(member.namespace, member.name);
    const time = this.now().toISOString();
    const announcement = announcementOf(member, action, time);
    try {
      const object = await this.kube.http.json<MemberObject>({
        method: 'PATCH',
        path: writePath(member, action),
        query: { fieldManager: OPERATOR_FIELD_MANAGER },
        contentType: MERGE_PATCH,
        body: patchFor(member, action, time),
        signal: scope.signal,
      });
      const next = operatorMember(object);
      this.echo(key, next.resourceVersion);
      if (announcement !== undefined) this.hooks.announce(announcement);
      return next;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return this.read(member.namespace, member.name);
      if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return this.afterNotFound(member, action);
      if (announcement !== undefined && outcomeUnknown(err)) {
        this.uncertain.set(key, { action, uid: member.uid, resourceVersion: member.resourceVersion, announcement });
      }
      throw err;
    }
  }

  /**
   * A 404 names the member whether it is gone or the CRD serves no status subresource (the original operator's
   * CRD): only a read tells them apart, and the second must be said, not taken for a deletion.
   */
  private async afterNotFound(member: OperatorMember, action: Action): Promise<OperatorMember | undefined> {
    if (!writePath(member, action).endsWith('/status')) return undefined;
    const now = await this.read(member.namespace, member.name);
    if (now === undefined) return undefined;
    throw new Error('the Member CRD serves no status subresource: upgrade it with `member-watch install-crd`');
  }

  private actingScope(): ActingScope {
    const scope = this.scope;
    if (scope === undefined || !this.acting || !scope.mayAct()) throw new NotActing();
    return scope;
  }

  /** A quorum read of one member; also settles a write whose answer was lost. */
  private async read(namespace: string, name: string): Promise<OperatorMember | undefined> {
    let member: OperatorMember | undefined;
    try {
      const object = await this.kube.http.json<MemberObject>({
        method: 'GET',
        path: memberPath(namespace, name),
        signal: this.scope?.signal,
      });
      member = operatorMember(object);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404 && err.objectName !== undefined)) throw err;
    }
    this.settle(memberKey(namespace, name), member);
    return member;
  }

  /** Decides a lost answer from what the member looks like now: our write's marks on it, or its absence. */
  private settle(key: string, now: OperatorMember | undefined): void {
    const pending = this.uncertain.get(key);
    if (pending === undefined) return;
    if (now !== undefined && now.uid === pending.uid && now.resourceVersion === pending.resourceVersion) return;
    this.uncertain.delete(key);
    if (now === undefined || now.uid !== pending.uid) {
      if (pending.action === 'farewell') this.hooks.announce(pending.announcement);
      return;
    }
    const landed = pending.action === 'farewell' ? !holdsFinalizer(now) : now.announcedAt === pending.announcement.time;
    if (landed) this.hooks.announce(pending.announcement);
  }

  /**
   * The member is gone. A goodbye whose finalizer removal lost its answer is settled now; without the finalizer
   * (--no-finalizer) the deletion itself is the goodbye's moment, for members that were welcomed.
   */
  private gone(key: string, last: OperatorMember): void {
    if (this.uncertain.has(key)) {
      this.settle(key, undefined);
      return;
    }
    if (this.options.useFinalizer || !this.acting || !welcomed(last)) return;
    this.hooks.announce({ kind: 'Farewell', member: last, previousTeam: undefined, time: this.now().toISOString() });
  }

  /**
   * Whether the watch has brought nothing since our last write: the events that arrived during the reconcile
   * may have been its echoes, come before the write's own answer. Writes are conditional, so any other change
   * before ours would have failed ours; a change after ours leaves the cache at a version that is not ours.
   */
  private caughtUp(key: string): boolean {
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

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

function writePath(member: OperatorMember, action: Action): string {
  const path = memberPath(member.namespace, member.name);
  return action === 'welcome' || action === 'move' || action === 'observe' ? `${path}/status` : path;
}

/**
 * The merge patch for an action. Every one carries the resourceVersion the decision was made from: the API
 * server refuses it (409) if the member changed since, so two writers can never both commit the same step.
 */
function patchFor(member: OperatorMember, action: Action, time: string): object {
  const metadata = { resourceVersion: member.resourceVersion };
  const others = (member.finalizers ?? []).filter((f) => f !== FINALIZER);
  switch (action) {
    case 'hold':
      return { metadata: { ...metadata, finalizers: [...others, FINALIZER] } };
    case 'farewell':
    case 'release':
      return { metadata: { ...metadata, finalizers: others.length > 0 ? others : null } };
    case 'observe':
      return { metadata, status: { observedGeneration: member.generation } };
    case 'welcome':
    case 'move':
      return { metadata, status: { announcedTeam: member.team ?? null, announcedAt: time, observedGeneration: member.generation } };
  }
}

function announcementOf(member: OperatorMember, action: Action, time: string): Announcement | undefined {
  switch (action) {
    case 'welcome':
      return { kind: 'Welcomed', member, previousTeam: undefined, time };
    case 'move':
      return { kind: 'Moved', member, previousTeam: member.announcedTeam, time };
    case 'farewell':
      return { kind: 'Farewell', member, previousTeam: undefined, time };
    default:
      return undefined;
  }
}
