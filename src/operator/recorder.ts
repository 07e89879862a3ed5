import { randomInt } from 'node:crypto';
import type { Kube } from '../kube/client.js';
import { ApiError } from '../kube/http.js';
import { API_VERSION, KIND } from '../members/resource.js';
import { Backoff, type BackoffOptions } from '../watcher/backoff.js';
import { type Correlated, EventCorrelator, type EventFacts } from './event-correlator.js';
import { describeFailure } from './failures.js';

/** source.component and reportingComponent of every Event: what `kubectl describe` shows under "From". */
const COMPONENT = 'member-watch';
/** client-go gives up on an Event after 12 tries. */
const MAX_ATTEMPTS = 12;
const RETRY: BackoffOptions = { initialMs: 500, maxMs: 15_000, healthyMs: Number.POSITIVE_INFINITY };
const INSTANCE_MAX = 128;

export interface RecorderOptions {
  identity: string;
  /** Events in flight at once, over all members. */
  concurrency: number;
  retry?: BackoffOptions;
}

export interface RecorderHooks {
  recorded(facts: EventFacts): void;
  /** Given up: a rejection no retry can mend, or MAX_ATTEMPTS failures. */
  dropped(facts: EventFacts, reason: string): void;
  /** One failed attempt that will be retried. */
  retrying(facts: EventFacts, reason: string, delayMs: number): void;
}

interface Pending {
  facts: EventFacts;
  at: Date;
  /** Fixed at the first attempt, so a retry sends the same object: a create that did land answers AlreadyExists. */
  correlated: Correlated | undefined;
  attempts: number;
}

/**
 * Records Kubernetes Events (core/v1, as `kubectl describe` and `kubectl get events` read them), correlated as
 * client-go does. The Events of one member go out in order, one at a time; different members in parallel, at
 * most `concurrency` at once. A failed write is retried with backoff without holding up the other members.
 */
export class EventRecorder {
  private readonly correlator = new EventCorrelator();
  private readonly perMember = new Map<string, Pending[]>();
  private readonly ready: string[] = [];
  private readonly backoffs = new Map<string, Backoff>();
  /** Retries waiting for their time, and whose they are. */
  private readonly timers = new Map<NodeJS.Timeout, string>();
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly kube: Kube,
    private readonly options: RecorderOptions,
    private readonly hooks: RecorderHooks,
  ) {}

  get pending(): number {
    let count = 0;
    for (const list of this.perMember.values()) count += list.length;
    return count;
  }

  record(facts: EventFacts, at: Date): void {
    const list = this.perMember.get(facts.uid);
    const item: Pending = { facts, at, correlated: undefined, attempts: 0 };
    if (list !== undefined) {
      list.push(item);
      return;
    }
    this.perMember.set(facts.uid, [item]);
    this.ready.push(facts.uid);
    this.pump();
  }

  /** Resolves once nothing is pending; retries still waiting are sent at once. */
  async drain(): Promise<void> {
    for (const [timer, uid] of this.timers) {
      clearTimeout(timer);
      this.ready.push(uid);
    }
    this.timers.clear();
    this.pump();
    if (this.perMember.size === 0) return;
    await new Promise<void>((resolve) => {
      this.idle = resolve;
    });
  }

  /** Forgets what is still pending (the process is going away); returns how many Events that was. */
  abandon(): number {
    const count = this.pending;
    for (const timer of this.timers.keys()) clearTimeout(timer);
    this.timers.clear();
    this.perMember.clear();
    this.ready.length = 0;
    this.idle?.();
    return count;
  }

  private pump(): void {
    while (this.inFlight < this.options.concurrency && this.ready.length > 0) {
      const uid = this.ready.shift() as string;
      this.inFlight += 1;
      void this.sendHead(uid).finally(() => {
        this.inFlight -= 1;
        this.pump();
        if (this.perMember.size === 0 && this.inFlight === 0) this.idle?.();
      });
    }
  }

  private async sendHead(uid: string): Promise<void> {
    const list = this.perMember.get(uid);
    const item = list?.[0];
    if (list === undefined || item === undefined) return;
    item.attempts += 1;
    item.correlated ??= this.correlator.correlate(item.facts, item.at, uniqueSuffix(item.at));
    try {
      await this.send(item.facts, item.correlated);
      this.correlator.recorded(item.correlated);
      this.hooks.recorded(item.facts);
    } catch (err) {
      if (this.retryLater(uid, item, err)) return;
    }
    this.next(uid, list);
  }

  private next(uid: string, list: Pending[]): void {
    list.shift();
    this.backoffs.delete(uid);
    if (list.length === 0) this.perMember.delete(uid);
    else this.ready.push(uid);
  }

  /** True when the Event will be tried again; false when it is given up. */
  private retryLater(uid: string, item: Pending, err: unknown): boolean {
    const reason = describeFailure(err);
    if (!retryable(err) || item.attempts >= MAX_ATTEMPTS) {
      this.hooks.dropped(item.facts, reason);
      return false;
    }
    let backoff = this.backoffs.get(uid);
    if (backoff === undefined) {
      backoff = new Backoff(this.options.retry ?? RETRY);
      this.backoffs.set(uid, backoff);
    }
    const delayMs = backoff.next(err instanceof ApiError ? err.retryAfterSeconds : undefined);
    this.hooks.retrying(item.facts, reason, delayMs);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.perMember.has(uid)) return;
      this.ready.push(uid);
      this.pump();
    }, delayMs);
    this.timers.set(timer, uid);
    return true;
  }

  private async send(facts: EventFacts, event: Correlated): Promise<void> {
    const collection = `/api/v1/namespaces/${encodeURIComponent(facts.namespace)}/events`;
    if (event.kind === 'patch') {
      try {
        await this.kube.http.json({
          method: 'PATCH',
          path: `${collection}/${encodeURIComponent(event.name)}`,
          contentType: 'application/merge-patch+json',
          body: { count: event.count, lastTimestamp: event.lastTimestamp, message: event.message },
        });
        return;
      } catch (err) {
        // Events expire (one hour by default): client-go then creates the object again, count and all.
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
    }
    try {
      await this.kube.http.json({ method: 'POST', path: collection, body: this.body(facts, event) });
    } catch (err) {
      // The same name again: an earlier attempt did land although its answer was lost.
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
  }

  private body(facts: EventFacts, event: Correlated): object {
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: event.name, namespace: facts.namespace },
      involvedObject: { apiVersion: API_VERSION, kind: KIND, namespace: facts.namespace, name: facts.name, uid: facts.uid },
      reason: facts.reason,
      message: event.message,
      type: facts.type,
      count: event.count,
      firstTimestamp: event.firstTimestamp,
      lastTimestamp: event.lastTimestamp,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.options.identity.slice(0, INSTANCE_MAX),
    };
  }
}

/** client-go: the time in nanoseconds, in hex. The nanoseconds below the millisecond are random, so two replicas do not collide. */
function uniqueSuffix(at: Date): string {
  return (BigInt(at.getTime()) * 1_000_000n + BigInt(randomInt(1_000_000))).toString(16);
}

/** Rejections that say the request itself is wrong or not allowed: sending it again changes nothing. */
function retryable(err: unknown): boolean {
  return !(err instanceof ApiError && [400, 401, 403, 404, 422].includes(err.status));
}
