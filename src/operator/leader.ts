import { setTimeout as sleep } from 'node:timers/promises';
import type { CliError } from '../errors.js';
import type { Kube } from '../kube/client.js';
import { ApiError, type ApiRequest } from '../kube/http.js';
import { describeFailure } from './failures.js';

const LEASE_RESOURCE = 'leases.coordination.k8s.io';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  /** How long a standby waits, from the last change it saw, before it takes over (client-go default 15 s). */
  leaseDurationMs: number;
  /** How long the leader keeps acting after its last successful renewal was sent (default 10 s). */
  renewDeadlineMs: number;
  /** Between two tries (default 2 s). */
  retryPeriodMs: number;
}

/** The reason stoppedLeading() gives after a clean release. */
export const RELEASED = 'released the lease';

/** What a standby adds to its retry period at most, so that standbys do not all ask at the same moment. */
const JITTER = 0.2;

export interface LeaderHooks {
  /** This process leads from now on; `signal` aborts the moment it must stop acting. */
  startedLeading(signal: AbortSignal): void;
  stoppedLeading(reason: string): void;
  /** Another holder was seen (undefined: the lease is free). */
  newLeader(identity: string | undefined): void;
  /** A try failed for a reason that may pass (network, 5xx, 429); the first of a row, and again after a success. */
  tryFailed(reason: string): void;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** An invalid combination of durations, in words for the flag parser. */
export function leaderElectionProblem(
  config: Pick<LeaderElectionConfig, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>,
): string | undefined {
  if (config.leaseDurationMs < 1000) return 'the lease duration must be at least 1s (the Lease counts whole seconds)';
  if (config.leaseDurationMs <= config.renewDeadlineMs) return 'the lease duration must be longer than the renew deadline';
  if (config.renewDeadlineMs <= config.retryPeriodMs * (1 + JITTER)) return 'the renew deadline must be longer than 1.2 retry periods';
  if (config.retryPeriodMs <= 0) return 'the retry period must be positive';
  return undefined;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: acquire or renew
 * with optimistic concurrency on the Lease's resourceVersion; a standby takes over only after it has seen no
 * change to the Lease for a whole lease duration, timed on its own clock (never trusting the times written in the
 * Lease, so clock offsets between machines do not matter; clock *rates* must agree within the ratio of lease
 * duration to renew deadline). The leader stops acting once `renewDeadlineMs` has passed since it *sent* its last
 * successful renewal: every standby saw that renewal after it was sent, so none can take over before the leader
 * stopped, by leaseDuration - renewDeadline (5 s by default) of margin. On stop() the leader releases the Lease
 * (no holder, leaseDurationSeconds 1) so a standby takes over at its next try.
 */
export class LeaderElector {
  private observed: Lease | undefined;
  private observedSpec = '';
  /** performance.now() when the Lease was last seen to change. */
  private observedAt = 0;
  private reportedHolder: string | undefined | null = null;
  private leading: AbortController | undefined;
  /** performance.now() when the last successful renewal was sent. */
  private renewedAt = 0;
  private deadline: NodeJS.Timeout | undefined;
  private reached = false;
  private failing = false;
  /** A renewal was refused because the Lease changed: no new write starts until a read says whose it is. */
  private suspended = false;
  /** The resourceVersion of the Lease as this process last wrote it. */
  private written: string | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  /** The verb of the request under way, for the message if it is refused. */
  private verb = 'get';

  constructor(
    private readonly kube: Kube,
    private readonly config: LeaderElectionConfig,
    private readonly hooks: LeaderHooks,
  ) {}

  get isLeader(): boolean {
    return this.leading !== undefined;
  }

  /** Whether the leader may still start a write: false past the deadline even when a late timer has not said so yet. */
  mayAct(): boolean {
    return this.leading !== undefined && !this.suspended && performance.now() < this.renewedAt + this.config.renewDeadlineMs;
  }

  /** Tries until stop(); rejects only for a failure that no retry mends (403 before the Lease was ever reached). */
  run(): Promise<void> {
    this.loop ??= this.tryUntilStopped();
    return this.loop;
  }

  /** Ends the tries and, when leading, releases the Lease. Call once the work it guarded is finished. */
  async stop(): Promise<boolean> {
    this.stopping.abort();
    await this.loop?.catch(() => undefined);
    try {
      if (this.leading === undefined) return false;
      const released = await this.release();
      this.lose(released ? RELEASED : 'stopped without releasing the lease: a standby takes over once it expires');
      return released;
    } finally {
      this.kube.close();
    }
  }

  private async tryUntilStopped(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await this.attempt();
      const wait = this.leading ? this.config.retryPeriodMs : this.config.retryPeriodMs * (1 + Math.random() * JITTER);
      await sleep(wait, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }

  private async attempt(): Promise<void> {
    const sentAt = performance.now();
    const wasLeading = this.leading;
    try {
      const held = await this.tryAcquireOrRenew();
      this.reached = true;
      this.recovered();
      // The deadline passed while the answer was on its way: the next try starts a new term.
      if (wasLeading !== this.leading) return;
      if (held) this.renewed(sentAt);
      else this.lose(`the lease is held by ${this.observed?.spec?.holderIdentity ?? 'nobody'}`);
    } catch (err) {
      if (!this.reached && isFinal(err)) throw this.explain(err);
      if (!this.failing) this.hooks.tryFailed(describeFailure(err));
      this.failing = true;
    }
  }

  private recovered(): void {
    this.failing = false;
  }

  /**
   * client-go's tryAcquireOrRenew, stricter where a Lease is deleted or handed over by someone else: true when
   * this process holds the Lease after the call.
   */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = microTime(new Date());
    if (await this.renewAsObserved(now)) return true;
    const current = await this.get();
    if (current === undefined) {
      // Its holder may still be acting: a leader stops at once; a standby that saw it held waits it out.
      this.lose('the lease was deleted');
      if (this.heldByAnotherUntilExpiry()) return false;
      return wonRace(async () => this.observe(await this.create(now)));
    }
    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    // Our name written by someone else while we stood by (or by an acquire whose answer we lost) is not a term
    // we started: its writer may have handed it over from a leader still acting.
    const mine = holder === this.config.identity && (this.leading !== undefined || current.metadata.resourceVersion === this.written);
    if (holder !== '' && !mine && this.unexpired(spec)) {
      this.lose(`the lease is held by ${holder}`);
      return false;
    }
    return wonRace(() =>
      this.update(current, {
        holderIdentity: this.config.identity,
        leaseDurationSeconds: this.leaseSeconds,
        acquireTime: mine ? (spec.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      }),
    );
  }

  /**
   * The leader's fast path: update the Lease as last seen. A 404 (deleted) ends the term at once; a 409 (written
   * since) stops new writes until the read that follows says whose it is; a lost answer falls back to that read
   * too, the renew deadline still running.
   */
  private async renewAsObserved(now: string): Promise<boolean> {
    const observed = this.observed;
    if (!this.leading || observed === undefined) return false;
    try {
      await this.update(observed, { ...observed.spec, holderIdentity: this.config.identity, renewTime: now });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) this.lose('the lease was deleted');
      if (err instanceof ApiError && err.status === 409) this.suspended = true;
      return false;
    }
  }

  /** A Lease last seen held by another, less than its duration ago (on our clock): its holder may still act. */
  private heldByAnotherUntilExpiry(): boolean {
    const spec = this.observed?.spec;
    const holder = spec?.holderIdentity ?? '';
    return holder !== '' && holder !== this.config.identity && this.unexpired(spec ?? {});
  }

  private get leaseSeconds(): number {
    return Math.ceil(this.config.leaseDurationMs / 1000);
  }

  private unexpired(spec: LeaseSpec): boolean {
    return performance.now() < this.observedAt + (spec.leaseDurationSeconds ?? this.leaseSeconds) * 1000;
  }

  /** Remembers the Lease; its change (not its timestamps) is what a standby times. */
  private observe(lease: Lease): void {
    this.observed = lease;
    const spec = JSON.stringify(lease.spec ?? {});
    if (spec !== this.observedSpec) {
      this.observedSpec = spec;
      this.observedAt = performance.now();
    }
    const holder = lease.spec?.holderIdentity || undefined;
    const news = holder !== this.reportedHolder && holder !== this.config.identity && !this.stopping.signal.aborted;
    if (news) this.hooks.newLeader(holder);
    this.reportedHolder = holder;
  }

  private renewed(sentAt: number): void {
    this.renewedAt = sentAt;
    this.suspended = false;
    const first = this.leading === undefined;
    this.leading ??= new AbortController();
    clearTimeout(this.deadline);
    this.deadline = setTimeout(
      () => this.lose(`could not renew the lease within ${this.config.renewDeadlineMs} ms`),
      Math.max(0, sentAt + this.config.renewDeadlineMs - performance.now()),
    );
    if (first) this.hooks.startedLeading(this.leading.signal);
  }

  private lose(reason: string): void {
    clearTimeout(this.deadline);
    this.suspended = false;
    const leading = this.leading;
    if (leading === undefined) return;
    this.leading = undefined;
    leading.abort();
    this.hooks.stoppedLeading(reason);
  }

  /** client-go's release: no holder and a one-second lease, so a standby takes over at its next try. */
  private async release(): Promise<boolean> {
    const observed = this.observed;
    if (observed === undefined || !this.mayAct()) return false;
    const now = microTime(new Date());
    try {
      await this.update(observed, {
        holderIdentity: null,
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: observed.spec?.leaseTransitions ?? 0,
      });
      return true;
    } catch (err) {
      this.hooks.tryFailed(`could not release the lease: ${describeFailure(err)}`);
      return false;
    }
  }

  private get collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.config.namespace)}/leases`;
  }

  /** No try may outlive the renew deadline: a leader must know in time whether it still leads. */
  private request<T>(verb: string, req: ApiRequest): Promise<T> {
    this.verb = verb;
    return this.kube.http.json<T>({ ...req, signal: AbortSignal.timeout(this.config.renewDeadlineMs) });
  }

  private async get(): Promise<Lease | undefined> {
    try {
      return await this.request<Lease>('get', { method: 'GET', path: `${this.collection}/${encodeURIComponent(this.config.name)}` });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return undefined;
      throw err;
    }
  }

  private async create(now: string): Promise<Lease> {
    const spec: LeaseSpec = {
      holderIdentity: this.config.identity,
      leaseDurationSeconds: this.leaseSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    const created = await this.request<Lease>('create', {
      method: 'POST',
      path: this.collection,
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.config.name, namespace: this.config.namespace },
        spec,
      },
    });
    this.written = created.metadata.resourceVersion;
    return created;
  }

  /** A PUT carrying the resourceVersion read: it fails with 409 if anyone wrote the Lease since. */
  private async update(lease: Lease, spec: LeaseSpec): Promise<Lease> {
    const updated = await this.request<Lease>('update', {
      method: 'PUT',
      path: `${this.collection}/${encodeURIComponent(this.config.name)}`,
      body: { ...lease, spec },
    });
    this.written = updated.metadata.resourceVersion;
    this.observe(updated);
    return updated;
  }

  private explain(err: unknown): CliError {
    return this.kube.explain(err, { verb: this.verb, resource: LEASE_RESOURCE, namespace: this.config.namespace });
  }
}

/**
 * True when the write went through; false when another candidate wrote the Lease first (409: created or updated
 * since we read it), which is losing a race, not a failure: the next try reads who won.
 */
async function wonRace(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) return false;
    throw err;
  }
}

/** Before the Lease was ever reached, a rejection of the request itself will not pass by retrying. */
function isFinal(err: unknown): boolean {
  return err instanceof ApiError && err.status >= 400 && err.status < 500 && ![408, 409, 429].includes(err.status);
}

/** A Lease's MicroTime: RFC 3339 with exactly six digits of fractional seconds (the API server rejects three). */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
