import type { Kube } from '../kube/client.js';
import { ApiError } from '../kube/http.js';
import { API_VERSION, GROUP, KIND } from '../members/resource.js';
import type { Announcement } from './announcement.js';
import { describeFailure } from './failures.js';

/** source.component and reportingComponent of every Event: what `kubectl describe` shows under "From". */
const COMPONENT = 'member-watch';
/** The API server's limit on reportingInstance. */
export const INSTANCE_MAX = 128;
/** What a process that did not make the Event needs to record it in the member's status. */
const TEAM = `${GROUP}/team`;
const ANNOUNCED_AT = `${GROUP}/announced-at`;
const GENERATION = `${GROUP}/generation`;
/** A create answered AlreadyExists, then a read answered NotFound: the Event expired in between. Not more often than this. */
const MAX_CREATES = 3;

/** An announcement's Event as read back from the cluster. */
export interface AnnouncementRecord {
  eventName: string;
  /** reportingInstance: which process made it (this one, if it is our identity). */
  instance: string | undefined;
  team: string | undefined;
  /** When it was announced (status.announcedAt); undefined on an Event this operator did not write. */
  time: string | undefined;
  generation: number | undefined;
}

/**
 * made: this create made the announcement (log it); exists: it had been made (by this process, if `record.instance`
 * is ours); refused: the cluster takes no Event here (403: RBAC, quota, a namespace being deleted) and none exists.
 */
export type Commit = { kind: 'made' } | { kind: 'exists'; record: AnnouncementRecord } | { kind: 'refused'; reason: string };

interface EventObject {
  metadata?: { name?: string; annotations?: Record<string, string> };
  reportingInstance?: string;
}

/**
 * The Kubernetes Events (core/v1, as `kubectl describe` and `kubectl get events` read them) that commit
 * announcements. Each has a name of its own (`announcementEventName`), so that the API server's uniqueness of
 * names makes each announcement at most once, whichever process tries and however often.
 */
export class AnnouncementEvents {
  readonly instance: string;

  constructor(
    private readonly kube: Kube,
    identity: string,
    /** The Event's message: the announcement in words. */
    private readonly describe: (announcement: Announcement) => string,
  ) {
    this.instance = identity.slice(0, INSTANCE_MAX);
  }

  /** Creates the announcement's Event; throws what may pass (network, 5xx, 429), the create's outcome then unknown. */
  async commit(announcement: Announcement, signal: AbortSignal): Promise<Commit> {
    const { namespace } = announcement.member;
    for (let creates = 1; ; creates += 1) {
      try {
        await this.kube.http.json({ method: 'POST', path: collection(namespace), body: this.body(announcement), signal });
        return { kind: 'made' };
      } catch (err) {
        const known = await this.afterRefusal(announcement, err, signal);
        if (known !== undefined) return known;
        if (creates >= MAX_CREATES) throw err;
      }
    }
  }

  /** The Event of that name; undefined when there is none. Needs get on events: without it, nothing can be settled. */
  async read(namespace: string, eventName: string, signal: AbortSignal | undefined): Promise<AnnouncementRecord | undefined> {
    try {
      return await this.get(namespace, eventName, signal);
    } catch (err) {
      if (!refusal(err)) throw err;
      throw new Error(
        `may not read the Event ${eventName} in namespace ${namespace} (${describeFailure(err)}): the operator needs get on events to tell whether an announcement was made (deploy/rbac.yaml grants it)`,
      );
    }
  }

  /** Like read, but an Event that may not be read counts as none: the member's status is then the only record. */
  async readIfAllowed(namespace: string, eventName: string, signal: AbortSignal | undefined): Promise<AnnouncementRecord | undefined> {
    try {
      return await this.get(namespace, eventName, signal);
    } catch (err) {
      if (refusal(err)) return undefined;
      throw err;
    }
  }

  private async get(namespace: string, eventName: string, signal: AbortSignal | undefined): Promise<AnnouncementRecord | undefined> {
    try {
      const event = await this.kube.http.json<EventObject>({
        method: 'GET',
        path: `${collection(namespace)}/${encodeURIComponent(eventName)}`,
        signal,
      });
      return recordOf(eventName, event);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** What a failed create says: undefined to create again (it existed, then expired), or throws the failure. */
  private async afterRefusal(announcement: Announcement, err: unknown, signal: AbortSignal): Promise<Commit | undefined> {
    const { namespace } = announcement.member;
    if (err instanceof ApiError && err.status === 409) {
      const record = await this.read(namespace, announcement.eventName, signal);
      return record === undefined ? undefined : { kind: 'exists', record };
    }
    if (!refusal(err)) throw err;
    // A namespace being deleted refuses the create even where the Event exists: ask before saying there is none.
    const record = await this.readIfAllowed(namespace, announcement.eventName, signal);
    return record === undefined ? { kind: 'refused', reason: describeFailure(err) } : { kind: 'exists', record };
  }

  private body(announcement: Announcement): object {
    const { member } = announcement;
    const at = announcement.time.replace(/\.\d{3}Z$/, 'Z');
    const annotations: Record<string, string> = { [ANNOUNCED_AT]: announcement.time, [GENERATION]: String(announcement.generation) };
    if (member.team !== undefined) annotations[TEAM] = member.team;
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: announcement.eventName, namespace: member.namespace, annotations },
      involvedObject: { apiVersion: API_VERSION, kind: KIND, namespace: member.namespace, name: member.name, uid: member.uid },
      reason: announcement.kind,
      message: this.describe(announcement),
      type: 'Normal',
      count: 1,
      firstTimestamp: at,
      lastTimestamp: at,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance,
    };
  }
}

function collection(namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
}

/** An answer that says the cluster will not take (or show) this Event: asking again changes nothing. */
function refusal(err: unknown): boolean {
  return err instanceof ApiError && err.status >= 400 && err.status < 500 && ![401, 408, 409, 429].includes(err.status);
}

function recordOf(eventName: string, event: EventObject): AnnouncementRecord {
  const annotations = event.metadata?.annotations ?? {};
  const generation = Number(annotations[GENERATION]);
  return {
    eventName,
    instance: typeof event.reportingInstance === 'string' ? event.reportingInstance : undefined,
    team: typeof annotations[TEAM] === 'string' ? annotations[TEAM] : undefined,
    time: typeof annotations[ANNOUNCED_AT] === 'string' ? annotations[ANNOUNCED_AT] : undefined,
    generation: Number.isSafeInteger(generation) ? generation : undefined,
  };
}
