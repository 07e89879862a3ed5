import type { Kube } from '../kube/client.js';
import { ApiError } from '../kube/http.js';
import { FINALIZER, type MemberObject, memberPath } from '../members/resource.js';
import { memberKey } from '../watcher/events.js';
import type { MemberStore } from '../watcher/store.js';
import { type Announcement, announcementEventName, type AnnouncementKind, announcementTime } from './announcement.js';
import type { AnnouncementEvents, AnnouncementRecord } from './announcement-events.js';
import { outcomeUnknown, writeRefused } from './failures.js';
import { type Action, decide, holdsFinalizer, type OperatorMember, operatorMember, welcomed } from './member.js';

const MERGE_PATCH = 'application/merge-patch+json';
/**
 * The operator's own field manager: apply-member's server-side applies (manager member-watch) must keep owning
 * spec, so that an apply without --team still removes the team after the operator wrote the same object.
 */
const OPERATOR_FIELD_MANAGER = 'member-watch-operator';
/** Writes and re-reads in one reconcile before it counts as failed: a member that never settles must not hold a worker. */
const MAX_STEPS = 10;

/** While this process may act: the leader's term, or the whole run without leader election. */
export interface ActingScope {
  signal: AbortSignal;
  /** Checked before every write, so that a late timer cannot let a write out after the renew deadline. */
  mayAct(): boolean;
}

/** What the work reads and writes through. */
export interface MemberWorkDeps {
  kube: Kube;
  events: AnnouncementEvents;
  store: MemberStore<OperatorMember>;
}

export interface MemberWorkOptions {
  useFinalizer: boolean;
  now: () => Date;
}

export interface MemberWorkHooks {
  /** An announcement this process made: log it, count it; `recorded`: by creating its Event. */
  announce(announcement: Announcement, recorded: boolean): void;
  /** The cluster refused an announcement's Event: the member's status (or finalizer) commits it instead. */
  eventRefused(announcement: Announcement, reason: string): void;
  /** A write to a member was answered: accepted, or refused as not allowed (the reason, for 401 and 403). */
  wrote(refused: string | undefined): void;
  /** A write to a member succeeded: its watch event is our own echo. */
  echo(key: string, resourceVersion: string): void;
}

/**
 * A commit sent without an answer (connection lost, timed out, aborted): settled by a read before anything else
 * is decided for the member, whether this process still acts or not, so that it is told once if it was made.
 * - event: the announcement's Event create (its name says which announcement; its reportingInstance whose);
 * - status: the status write that commits an announcement where Events are refused (its announcedAt says ours);
 * - finalizer: the finalizer removal that commits a goodbye where Events are refused: only the term that sent it
 *   can tell its removal from another's.
 */
type Unresolved =
  | { via: 'event'; announcement: Announcement }
  | { via: 'status'; announcement: Announcement }
  | { via: 'finalizer'; announcement: Announcement; scope: ActingScope };

/** An announcement that is made (its Event exists) but not yet in the member: the next write records it. */
interface Owed {
  uid: string;
  kind: AnnouncementKind;
  team: string | undefined;
  time: string;
  generation: number;
  /** The status.announcedAt it continues from: a status still showing it has not recorded this one yet. */
  departedAt: string | undefined;
}

export class NotActing extends Error {
  constructor() {
    super('not acting');
    this.name = 'NotActing';
  }
}

/**
 * What the operator does for one member, one write at a time. Every announcement is committed where the API
 * server's uniqueness makes it happen at most once: by creating its Event under a name of its own (a create
 * that succeeds made it; AlreadyExists: it was made), then recorded in the member's status (or, for a goodbye,
 * by removing the finalizer), each write carrying the resourceVersion it was decided from. Where the cluster
 * refuses the Event, the conditional status write (or finalizer removal) is the commit itself.
 */
export class MemberWork {
  private readonly unresolved = new Map<string, Unresolved>();
  private readonly owed = new Map<string, Owed>();
  /** Members deleted while this process acted, without the finalizer: their goodbyes, in order. */
  private readonly departed = new Map<string, OperatorMember[]>();
  private scope: ActingScope | undefined;
  private readonly kube: Kube;
  private readonly events: AnnouncementEvents;
  private readonly store: MemberStore<OperatorMember>;

  constructor(
    deps: MemberWorkDeps,
    private readonly options: MemberWorkOptions,
    private readonly hooks: MemberWorkHooks,
  ) {
    this.kube = deps.kube;
    this.events = deps.events;
    this.store = deps.store;
  }

  act(scope: ActingScope | undefined): void {
    this.scope = scope;
    if (scope === undefined) this.departed.clear();
  }

  /** Keys whose last commit is unsettled: looked at even while not acting. */
  unsettled(): string[] {
    return [...this.unresolved.keys()];
  }

  isUnsettled(key: string): boolean {
    return this.unresolved.has(key);
  }

  /**
   * A member is gone. Without the finalizer, a member deleted while acting is seen off from its last state; so is
   * one whose deletion the watch shows passing our finalizer (`past`: its last state holds it, not being deleted),
   * which kube-apiserver does when the finalizer was added while the delete was under way (kubernetes#77988).
   */
  gone(member: OperatorMember, acting: boolean, watched: boolean): void {
    const key = memberKey(member.namespace, member.name);
    const past = watched && !member.deleting && holdsFinalizer(member);
    if ((this.options.useFinalizer && !past) || !acting) {
      if (this.owed.get(key)?.uid === member.uid) this.owed.delete(key);
      return;
    }
    this.departed.set(key, [...(this.departed.get(key) ?? []), member]);
  }

  /** Settles a commit sent without an answer; throws (to be tried again) when the read fails. */
  async settle(key: string, signal: AbortSignal | undefined): Promise<void> {
    const pending = this.unresolved.get(key);
    if (pending === undefined) return;
    const { announcement } = pending;
    const { namespace, name, uid } = announcement.member;
    if (pending.via === 'event') {
      await this.settleEvent(key, announcement, signal);
      return;
    }
    const now = await this.read(namespace, name, signal);
    this.unresolved.delete(key);
    const same = now !== undefined && now.uid === uid;
    if (pending.via === 'status') {
      if (same && now.announcedAt === announcement.time) this.hooks.announce(announcement, false);
      return;
    }
    const landed = !same || !holdsFinalizer(now);
    if (landed && this.stillActing(pending.scope)) this.hooks.announce(announcement, false);
  }

  private async settleEvent(key: string, announcement: Announcement, signal: AbortSignal | undefined): Promise<void> {
    const record = await this.events.read(announcement.member.namespace, announcement.eventName, signal);
    this.unresolved.delete(key);
    if (record === undefined) return;
    // Ours and of this very try (its time): an earlier try of this process that made it has told it already.
    if (record.instance === this.events.instance && record.time === announcement.time) this.hooks.announce(announcement, true);
    this.owe(key, announcement.member.uid, record, announcement);
  }

  /** Brings the member to what the operator wants; `fresh`: read it first rather than trust the cache. */
  async reconcile(key: string, fresh: boolean): Promise<void> {
    const [namespace, name] = splitKey(key);
    await this.seeOff(key);
    let member = fresh ? await this.read(namespace, name, this.actingScope().signal) : this.store.get(namespace, name);
    for (let steps = 0; member !== undefined; steps += 1) {
      const owed = this.owedBy(key, member);
      const action = owed === undefined ? decide(member, this.options.useFinalizer) : undefined;
      if (owed === undefined && action === undefined) return;
      if (steps >= MAX_STEPS) throw new Error(`${key} did not settle after ${MAX_STEPS} writes`);
      member = owed === undefined ? await this.step(member, action as Action) : await this.record(member, owed);
    }
  }

  private stillActing(scope: ActingScope): boolean {
    return this.scope === scope && !scope.signal.aborted && scope.mayAct();
  }

  private actingScope(): ActingScope {
    const scope = this.scope;
    if (scope === undefined || scope.signal.aborted || !scope.mayAct()) throw new NotActing();
    return scope;
  }

  /** What is owed to this incarnation and not yet in its status (or finalizers); forgets what is. */
  private owedBy(key: string, member: OperatorMember): Owed | undefined {
    const owed = this.owed.get(key);
    if (owed === undefined) return undefined;
    const done =
      owed.uid !== member.uid ||
      (owed.kind === 'Farewell' ? !holdsFinalizer(member) : member.announcedAt === owed.time || member.announcedAt !== owed.departedAt);
    if (!done) return owed;
    this.owed.delete(key);
    return undefined;
  }

  private async step(member: OperatorMember, action: Action): Promise<OperatorMember | undefined> {
    switch (action) {
      case 'welcome':
        return this.announce(member, 'Welcomed');
      case 'move':
        return this.announce(member, 'Moved');
      case 'farewell':
        return this.announce(member, 'Farewell');
      case 'observe':
        // The move after the recorded announcement may exist, made by a process that stopped before recording it.
        return (await this.found(member, 'Moved')) ? member : this.write(member, observePatch(member));
      case 'release':
        return member.deleting && this.options.useFinalizer && (await this.found(member, 'Welcomed'))
          ? member
          : this.write(member, finalizerPatch(member, false));
      case 'hold':
        return this.write(member, finalizerPatch(member, true));
    }
  }

  /** Whether the announcement of that kind that would follow the status exists already; if so it is owed. */
  private async found(member: OperatorMember, kind: 'Welcomed' | 'Moved'): Promise<boolean> {
    const record = await this.existing(member, kind);
    if (record === undefined) return false;
    this.owe(memberKey(member.namespace, member.name), member.uid, record, this.announcementOf(member, kind));
    return true;
  }

  private existing(member: OperatorMember, kind: 'Welcomed' | 'Moved'): Promise<AnnouncementRecord | undefined> {
    const eventName = announcementEventName(member.uid, kind, member.announcedAt);
    return this.events.readIfAllowed(member.namespace, eventName, this.actingScope().signal);
  }

  private announcementOf(member: OperatorMember, kind: AnnouncementKind): Announcement {
    const departedAt = kind === 'Moved' ? member.announcedAt : undefined;
    return {
      kind,
      member,
      previousTeam: kind === 'Moved' ? member.announcedTeam : undefined,
      departedAt,
      time: announcementTime(this.options.now(), member.announcedAt),
      generation: member.generation,
      eventName: announcementEventName(member.uid, kind, departedAt),
    };
  }

  /** Commits an announcement by its Event; returns the member as it is afterwards. */
  private async announce(member: OperatorMember, kind: AnnouncementKind): Promise<OperatorMember | undefined> {
    const key = memberKey(member.namespace, member.name);
    const announcement = this.announcementOf(member, kind);
    const commit = await this.commit(key, announcement);
    switch (commit.kind) {
      case 'made':
        this.hooks.announce(announcement, true);
        this.owe(key, member.uid, undefined, announcement);
        return member;
      case 'exists':
        this.owe(key, member.uid, commit.record, announcement);
        return member;
      case 'refused':
        this.hooks.eventRefused(announcement, commit.reason);
        return this.commitByWrite(member, announcement);
    }
  }

  private async commit(key: string, announcement: Announcement): ReturnType<AnnouncementEvents['commit']> {
    const scope = this.actingScope();
    try {
      return await this.events.commit(announcement, scope.signal);
    } catch (err) {
      if (outcomeUnknown(err)) this.unresolved.set(key, { via: 'event', announcement });
      throw err;
    }
  }

  /** Where Events are refused: the conditional write is the commit; the line follows it. */
  private async commitByWrite(member: OperatorMember, announcement: Announcement): Promise<OperatorMember | undefined> {
    const key = memberKey(member.namespace, member.name);
    const farewell = announcement.kind === 'Farewell';
    const scope = this.actingScope();
    try {
      const next = await this.write(member, farewell ? finalizerPatch(member, false) : statusPatch(member, announcement));
      this.hooks.announce(announcement, false);
      return next;
    } catch (err) {
      if (outcomeUnknown(err))
        this.unresolved.set(key, farewell ? { via: 'finalizer', announcement, scope } : { via: 'status', announcement });
      throw err;
    }
  }

  /** Remembers a made announcement until the member's status (or finalizers) show it. */
  private owe(key: string, uid: string, record: AnnouncementRecord | undefined, announcement: Announcement): void {
    const { kind, departedAt } = announcement;
    if (record === undefined || kind === 'Farewell') {
      this.owed.set(key, {
        uid,
        kind,
        team: announcement.member.team,
        time: announcement.time,
        generation: announcement.generation,
        departedAt,
      });
      return;
    }
    if (record.time === undefined || record.generation === undefined) {
      throw new Error(
        `the Event ${record.eventName} in namespace ${announcement.member.namespace} was not made by the member-watch operator`,
      );
    }
    this.owed.set(key, { uid, kind, team: record.team, time: record.time, generation: record.generation, departedAt });
  }

  /** Records what is owed: the status of a welcome or move, the finalizer's removal for a goodbye. */
  private record(member: OperatorMember, owed: Owed): Promise<OperatorMember | undefined> {
    if (owed.kind === 'Farewell') return this.write(member, finalizerPatch(member, false));
    const observedGeneration = Math.max(owed.generation, member.observedGeneration ?? 0);
    return this.write(member, { status: { announcedTeam: owed.team ?? null, announcedAt: owed.time, observedGeneration } });
  }

  /** Goodbyes without the finalizer, for members deleted while this process acted and welcomed by someone. */
  private async seeOff(key: string): Promise<void> {
    for (let last = this.departed.get(key)?.[0]; last !== undefined; last = this.departed.get(key)?.[0]) {
      // Something owed to it means it was announced: welcomed at least, its status not yet saying so.
      const owed = this.owed.get(key)?.uid === last.uid;
      if (owed) this.owed.delete(key);
      if (owed || welcomed(last) || (await this.existing(last, 'Welcomed')) !== undefined) await this.announceGone(key, last);
      const rest = this.departed.get(key)?.slice(1) ?? [];
      if (rest.length > 0) this.departed.set(key, rest);
      else this.departed.delete(key);
    }
  }

  private async announceGone(key: string, last: OperatorMember): Promise<void> {
    const announcement = this.announcementOf(last, 'Farewell');
    const commit = await this.commit(key, announcement);
    if (commit.kind === 'exists') return;
    // Refused: nothing can make it single; only leader election does.
    if (commit.kind === 'refused') this.hooks.eventRefused(announcement, commit.reason);
    this.hooks.announce(announcement, commit.kind === 'made');
  }

  /** One conditional write to the member (its status, or its finalizers); returns it as it is afterwards. */
  private async write(member: OperatorMember, patch: Patch): Promise<OperatorMember | undefined> {
    const scope = this.actingScope();
    const path = memberPath(member.namespace, member.name);
    try {
      const object = await this.kube.http.json<MemberObject>({
        method: 'PATCH',
        path: 'status' in patch ? `${path}/status` : path,
        query: { fieldManager: OPERATOR_FIELD_MANAGER },
        contentType: MERGE_PATCH,
        body: { ...patch, metadata: { ...patch.metadata, resourceVersion: member.resourceVersion } },
        signal: scope.signal,
      });
      this.hooks.wrote(undefined);
      const next = operatorMember(object);
      this.hooks.echo(memberKey(next.namespace, next.name), next.resourceVersion);
      return next;
    } catch (err) {
      const refused = writeRefused(err);
      if (refused !== undefined) this.hooks.wrote(refused);
      if (err instanceof ApiError && err.status === 409) return this.read(member.namespace, member.name, scope.signal);
      if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined)
        return this.afterNotFound(member, 'status' in patch);
      throw err;
    }
  }

  /**
   * A 404 names the member whether it is gone or the CRD serves no status subresource (the original operator's
   * CRD): only a read tells them apart, and the second must be said, not taken for a deletion.
   */
  private async afterNotFound(member: OperatorMember, status: boolean): Promise<OperatorMember | undefined> {
    if (!status) return undefined;
    const now = await this.read(member.namespace, member.name, this.scope?.signal);
    if (now === undefined) return undefined;
    throw new Error('the Member CRD serves no status subresource: upgrade it with `member-watch install-crd`');
  }

  /** A quorum read of one member; undefined when it is gone. */
  private async read(namespace: string, name: string, signal: AbortSignal | undefined): Promise<OperatorMember | undefined> {
    try {
      return operatorMember(await this.kube.http.json<MemberObject>({ method: 'GET', path: memberPath(namespace, name), signal }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return undefined;
      throw err;
    }
  }
}

type Patch = { metadata?: { finalizers?: string[] | null }; status?: object };

export function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** Adds or removes our finalizer, keeping the others as they are. */
function finalizerPatch(member: OperatorMember, hold: boolean): Patch {
  const others = (member.finalizers ?? []).filter((f) => f !== FINALIZER);
  const finalizers = hold ? [...others, FINALIZER] : others;
  return { metadata: { finalizers: finalizers.length > 0 ? finalizers : null } };
}

function observePatch(member: OperatorMember): Patch {
  return { status: { observedGeneration: member.generation } };
}

function statusPatch(member: OperatorMember, announcement: Announcement): Patch {
  return { status: { announcedTeam: member.team ?? null, announcedAt: announcement.time, observedGeneration: announcement.generation } };
}
