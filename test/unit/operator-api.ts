import type { Kube } from '../../src/kube/client.js';
import { type ApiRequest, ApiError, NetworkError } from '../../src/kube/http.js';
import type { MemberObject } from '../../src/members/resource.js';
import { AnnouncementEvents } from '../../src/operator/announcement-events.js';
import { operatorMember, type OperatorMember } from '../../src/operator/member.js';
import { Reconciler } from '../../src/operator/reconciler.js';
import { MemberStore } from '../../src/watcher/store.js';

export const T0 = '2026-11-25T10:00:00.000Z';
export const IDENTITY = 'op-1_uuid';

/**
 * What the next request that matches meets: applied then its answer lost, lost before it was applied, refused
 * with a status, a change made by someone else just before it arrives, or a wait (a slow answer) until the
 * promise settles.
 */
type Fault = 'lose-answer' | 'reset' | number | (() => void) | Promise<void>;

interface EventObject {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  reason: string;
  message: string;
  reportingInstance: string;
  involvedObject: { name: string; uid: string };
}

/**
 * An in-memory stand-in for the member endpoints (with resourceVersion preconditions) and the Event endpoints
 * (names unique per namespace), where the next requests of a kind can be made to fail, before or after being applied.
 */
export class FakeApi {
  readonly objects = new Map<string, MemberObject>();
  readonly events = new Map<string, EventObject>();
  /** `METHOD what`: a member's name (with /status), or `event NAME`. */
  readonly requests: string[] = [];
  /** Every version a PATCH produced, as the watch would deliver them. */
  readonly written: MemberObject[] = [];
  /** An old CRD: the status subresource is not served, and the API server says so with a 404 naming the member. */
  noStatus = false;
  /** Events are refused with this status (403: a namespace being deleted, RBAC, a quota). */
  refuseEvents: number | undefined;
  /** Member writes answered 500 for these names. */
  readonly broken = new Set<string>();
  private readonly faults: Array<{ match: RegExp; fault: Fault }> = [];
  private rv = 100;

  /** The next request whose `METHOD what` matches meets the fault. */
  failNext(match: RegExp, fault: Fault): void {
    this.faults.push({ match, fault });
  }

  add(name: string, team: string | undefined, over: Partial<MemberObject['metadata']> = {}): MemberObject {
    const object: MemberObject = {
      apiVersion: 'helloworld.apimeister.com/v1',
      kind: 'Member',
      metadata: { name, namespace: 'crew', uid: `uid-${name}`, resourceVersion: String(++this.rv), generation: 1, ...over },
      spec: team === undefined ? {} : { memberOf: team },
    };
    this.objects.set(name, object);
    return structuredClone(object);
  }

  /** Another writer changes the member: the operator's next conditional write hits 409. */
  touch(name: string, change: (o: MemberObject) => void): void {
    const object = this.objects.get(name) as MemberObject;
    const generation = JSON.stringify(object.spec);
    change(object);
    if (JSON.stringify(object.spec) !== generation) object.metadata.generation = (object.metadata.generation ?? 1) + 1;
    object.metadata.resourceVersion = String(++this.rv);
  }

  /** An Event made by another process. */
  addEvent(name: string, over: { team?: string; at: string; generation: number; instance?: string; member?: string }): void {
    const annotations: Record<string, string> = {
      'helloworld.apimeister.com/announced-at': over.at,
      'helloworld.apimeister.com/generation': String(over.generation),
    };
    if (over.team !== undefined) annotations['helloworld.apimeister.com/team'] = over.team;
    this.events.set(name, {
      metadata: { name, namespace: 'crew', annotations },
      reason: name.includes('.moved.') ? 'Moved' : name.endsWith('.farewell') ? 'Farewell' : 'Welcomed',
      message: 'made elsewhere',
      reportingInstance: over.instance ?? 'op-0_other',
      involvedObject: { name: over.member ?? 'patrick', uid: name.split('.')[0] ?? '' },
    });
  }

  eventsOf(name: string): string[] {
    return [...this.events.values()].filter((e) => e.involvedObject.name === name).map((e) => `${e.reason} ${e.message}`);
  }

  async json<T>(req: ApiRequest): Promise<T> {
    const event = /\/events(?:\/([^/?]+))?$/.exec(req.path);
    const [, name, sub] = /\/members\/([^/?]+)(\/status)?$/.exec(req.path) ?? [];
    const what = event === null ? `${name ?? ''}${sub ?? ''}` : `event ${event[1] ?? (req.body as EventObject).metadata.name}`;
    this.requests.push(`${req.method} ${what}`);
    const fault = this.takeFault(`${req.method} ${what}`);
    await this.before(fault);
    const answer = event === null ? this.member(req, name ?? '', sub !== undefined) : this.event(req, event[1]);
    if (fault === 'lose-answer') throw new NetworkError('ECONNRESET', 'socket hang up');
    return structuredClone(answer) as T;
  }

  /** What a fault does before the request is applied. */
  private async before(fault: Fault | undefined): Promise<void> {
    if (typeof fault === 'function') fault();
    if (fault instanceof Promise) await fault;
    if (fault === 'reset') throw new NetworkError('ECONNRESET', 'socket hang up');
    if (typeof fault === 'number') throw new ApiError({ status: fault, reason: 'Injected', message: `injected ${fault}` });
  }

  private takeFault(request: string): Fault | undefined {
    const at = this.faults.findIndex((f) => f.match.test(request));
    if (at < 0) return undefined;
    return this.faults.splice(at, 1)[0]?.fault;
  }

  private event(req: ApiRequest, name: string | undefined): EventObject {
    if (req.method === 'GET') {
      const found = this.events.get(name ?? '');
      if (found === undefined) throw new ApiError({ status: 404, reason: 'NotFound', message: 'not found', objectName: name });
      return found;
    }
    if (this.refuseEvents !== undefined) throw new ApiError({ status: this.refuseEvents, reason: 'Forbidden', message: 'refused' });
    const body = req.body as EventObject;
    if (this.events.has(body.metadata.name)) throw new ApiError({ status: 409, reason: 'AlreadyExists', message: 'exists' });
    this.events.set(body.metadata.name, structuredClone(body));
    return body;
  }

  /** Failures made on purpose, before anything is applied. */
  private refuse(name: string, status: boolean): void {
    if (this.broken.has(name)) throw new ApiError({ status: 500, reason: 'InternalError', message: 'etcd is sad' });
    if (this.noStatus && status) throw new ApiError({ status: 404, reason: 'NotFound', message: 'not found', objectName: name });
  }

  private member(req: ApiRequest, name: string, status: boolean): MemberObject {
    const object = this.objects.get(name);
    if (object === undefined) throw new ApiError({ status: 404, reason: 'NotFound', message: 'not found', objectName: name });
    if (req.method === 'GET') return object;
    this.refuse(name, status);
    const patch = req.body as { metadata: { resourceVersion: string; finalizers?: string[] | null }; status?: Record<string, unknown> };
    if (patch.metadata.resourceVersion !== object.metadata.resourceVersion)
      throw new ApiError({ status: 409, reason: 'Conflict', message: 'modified' });
    if (status) object.status = { ...object.status, ...patch.status };
    else if ('finalizers' in patch.metadata) object.metadata.finalizers = patch.metadata.finalizers ?? undefined;
    object.metadata.resourceVersion = String(++this.rv);
    if (object.metadata.deletionTimestamp !== undefined && (object.metadata.finalizers ?? []).length === 0) this.objects.delete(name);
    this.written.push(structuredClone(object));
    return object;
  }
}

export interface Harness {
  api: FakeApi;
  store: MemberStore<OperatorMember>;
  /** What was announced, as `kind name team` and, for moves, `from previous`. */
  announced: string[];
  refused: string[];
  failures: string[];
  reconciler: Reconciler;
  scope: AbortController;
  /** Puts the member's current object into the cache, as a watch event would, and tells the reconciler. */
  seen(name: string): void;
  /** The member is gone: the DELETED event of its last cached state. */
  deleted(name: string): void;
  settle(): Promise<void>;
}

export function harness(options: { concurrency?: number; useFinalizer?: boolean } = {}): Harness {
  const api = new FakeApi();
  const store = new MemberStore<OperatorMember>();
  const announced: string[] = [];
  const refused: string[] = [];
  const failures: string[] = [];
  const kube = { http: api } as unknown as Kube;
  let clock = Date.parse(T0) + 1000;
  const events = new AnnouncementEvents(kube, IDENTITY, (a) => `${a.kind} ${a.member.name}`);
  const reconciler = new Reconciler(
    { kube, events, store },
    {
      useFinalizer: options.useFinalizer ?? true,
      concurrency: options.concurrency ?? 4,
      retry: { initialMs: 5, maxMs: 5, healthyMs: 1e9 },
      now: () => new Date(clock++),
    },
    {
      announce: (a) => {
        const team = a.member.team === undefined ? '' : ` ${a.member.team}`;
        const from = a.kind === 'Moved' ? ` from ${a.previousTeam ?? '-'}` : '';
        announced.push(`${a.kind} ${a.member.name}${team}${from}`);
      },
      eventRefused: (a, reason) => refused.push(`${a.kind} ${a.member.name}: ${reason}`),
      wrote: () => undefined,
      failed: (_ns, name, reason) => failures.push(`${name}: ${reason}`),
      finished: () => undefined,
    },
  );
  const scope = new AbortController();
  return {
    api,
    store,
    announced,
    refused,
    failures,
    reconciler,
    scope,
    seen(name) {
      const object = api.objects.get(name);
      if (object === undefined) return;
      const event = store.apply('MODIFIED', operatorMember(structuredClone(object)), 'watch', T0);
      if (event) reconciler.observe(event);
    },
    deleted(name) {
      const last = store.get('crew', name);
      const event = last && store.apply('DELETED', last, 'watch', T0);
      if (event) reconciler.observe(event);
    },
    async settle() {
      for (let i = 0; i < 400 && reconciler.backlog > 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    },
  };
}
