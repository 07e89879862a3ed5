import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, ExitCode } from '../errors.js';
import type { Kube } from '../kube/client.js';
import { crdMissing, isTransient } from '../kube/errors.js';
import { ApiError, type Query } from '../kube/http.js';
import { ListSplitter } from '../kube/list-splitter.js';
import { mapLimit } from '../kube/parallel.js';
import { MEMBER_CRD, memberOp, membersPath, type MemberObject } from '../members/resource.js';
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
import { decodeListMeta, decodeMember, decodeWatchLine, type ErrorStatus, excerpt, type ListMeta, type WatchLine } from './decode.js';
import { type EventType, type MemberEvent, type MemberState, memberKey, type SelectionChange, type WatcherStatus } from './events.js';
import { memberAt, memberNow, type PastMember, teamFieldSelector, teamNotSelectable } from './selection.js';
import { type Departure, MemberStore } from './store.js';
import { Deadline, InitialEventsUnended, StreamedList } from './streamed-list.js';

export interface WatchOptions {
  /** undefined: every namespace. */
  namespace: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /**
   * Only members of these teams. One team is selected by the server where the Member CRD makes spec.memberOf
   * selectable, and by the watcher elsewhere: what is told is the same either way.
   */
  teams?: readonly string[] | undefined;
  /** Announce the members that exist at the start (source "initial"). */
  greetExisting: boolean;
  /** When the CRD is missing at the start: wait for it instead of failing. */
  waitForCrd: boolean;
  /** The server closes each watch after this long; silence beyond it plus a margin means a dead connection. */
  watchTimeoutSeconds: number;
  pageSize: number;
  /** Ask for lists as a watch stream (sendInitialEvents, KEP-3157) where the server serves one; paged lists elsewhere. */
  streamLists: boolean;
  /** Consecutive failed reconnects before giving up; undefined retries for ever. */
  maxReconnects?: number | undefined;
  backoff?: BackoffOptions;
}

/** Where events go. The watcher never prints: it hands events and status over and waits when asked to. */
export interface WatchSink<S extends MemberState = MemberState> {
  event(event: MemberEvent<S>): void;
  status(status: WatcherStatus): void;
  /** A promise while the consumer is behind (stdout is full): reading pauses until it resolves. */
  backpressure(): Promise<void> | undefined;
}

/** --max-reconnects ran out; `last` is the last failure, for the command to word. */
export class ReconnectsExhausted extends Error {
  constructor(
    readonly attempts: number,
    readonly last: Error,
  ) {
    super(`gave up after ${attempts} reconnects: ${last.message}`, { cause: last });
    this.name = 'ReconnectsExhausted';
  }
}

/** A watch the server ended at once without a single line: a failure to back off from, not a normal end. */
export class ClosedAtOnce extends Error {
  constructor() {
    super('the API server ended the watch at once, without an event');
    this.name = 'ClosedAtOnce';
  }
}

/** The next page of a list was refused with 410: its continue token, and the snapshot it reads, expired. */
class SnapshotExpired extends Error {
  constructor(readonly cause: ApiError) {
    super(`the list's continue token expired: ${cause.message}`, { cause });
    this.name = 'SnapshotExpired';
  }
}

const CRD_POLL_MAX_MS = 2_000;
/** Members whose goodbye after a relist waits for the API to say whether they were deleted or left the selection. */
const RESOLVE_CONCURRENCY = 8;
/**
 * Silence this long among a streamed list's initial events, before the bookmark that ends them, means it is not
 * coming: the server does not stream lists after all (client-go warns after the same 10 s, but waits on).
 */
const INITIAL_EVENTS_SILENCE_MS = 10_000;
/** A resumed watch that has sent nothing and stayed up this long has reconnected (see 'live' in WatcherStatus). */
const PROVEN_AFTER_MS = 1_000;
const now = (): string => new Date().toISOString();

/**
 * List, then watch from the list's resourceVersion, resuming from the last one seen (bookmarks included)
 * after every close or error, relisting and reconciling after 410 Gone, and backing off with jitter. Where lists
 * are streamed, a list is a watch whose initial events are the list, and the watch goes on from there.
 * Resolves when `signal` aborts; rejects only with final errors (401/403, bad selector, CRD missing at start
 * without waitForCrd, an answer that is not a Kubernetes list, ReconnectsExhausted).
 */
export async function watchMembers(kube: Kube, options: WatchOptions, sink: WatchSink, signal: AbortSignal): Promise<void> {
  await new MemberWatch({ ...options, project: (_object, member) => member, store: new MemberStore() }, kube, sink, signal).run();
}

/** What a consumer that keeps more per member than `watch` passes: how to read it from an object, and the store to keep it in. */
export interface Projection<S extends MemberState> {
  /** `member` is what `watch` keeps, read and checked from `object`, whose metadata is therefore sound. */
  project: (object: MemberObject, member: MemberState) => S;
  /** The consumer reads its members from here (the watcher is the only writer). */
  store: MemberStore<S>;
}

/** watchMembers, keeping per member what `project` reads from each object. */
export async function watchProjected<S extends MemberState>(
  kube: Kube,
  options: WatchOptions & Projection<S>,
  sink: WatchSink<S>,
  signal: AbortSignal,
): Promise<void> {
  await new MemberWatch(options, kube, sink, signal).run();
}

/**
 * Where the watch stands is recorded as it happens, never guessed from what the lists held: a watch that
 * started with no members has listed all the same, and its next list must reconcile like any other relist.
 */
class MemberWatch<S extends MemberState> {
  private readonly store: MemberStore<S>;
  private readonly backoff: Backoff;
  /** Polls for a missing CRD back off on their own: they are not failed reconnects (--max-reconnects). */
  private readonly crdPoll: Backoff;
  /** Where to resume; undefined when a list is needed first. */
  private resourceVersion: string | undefined;
  /** A list was answered: the CRD existed, so a 404 from now on means it was deleted while watching. */
  private served = false;
  /** A list ran to its end: every later list is a relist, whose events are told whatever --watch-only says. */
  private synced = false;
  /** The first list put members in the store and then failed: its retry must reconcile against them. */
  private partial = false;
  private liveOnce = false;
  /** A watch is open but has not yet shown it works; 'live' is reported when it does. */
  private livePending = false;
  /** The batch of the list or relist under way: its events arrived together. */
  private batch = 0;
  /** The team the server selects; undefined when there is none, or the server cannot (the watcher does). */
  private serverTeam: string | undefined;
  /** Lists are streamed; false once the server refused a streamed list or never ended one (then for good). */
  private streaming: boolean;
  /** A streamed list whose initial events are still arriving. */
  private initial: StreamedList<S> | undefined;

  constructor(
    private readonly options: WatchOptions & Projection<S>,
    private readonly kube: Kube,
    private readonly sink: WatchSink<S>,
    private readonly signal: AbortSignal,
  ) {
    this.store = options.store;
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.crdPoll = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.serverTeam = options.teams?.length === 1 ? options.teams[0] : undefined;
    this.streaming = options.streamLists;
  }

  async run(): Promise<void> {
    this.sink.status({ kind: 'connecting' });
    while (!this.signal.aborted) {
      try {
        const resumed = this.resourceVersion;
        if (resumed !== undefined) await this.watch({ resourceVersion: resumed }, 'resumed');
        else if (this.streaming) await this.streamedList();
        else await this.watch({ resourceVersion: await this.list() }, 'listed');
      } catch (err) {
        if (this.signal.aborted) return;
        await this.recover(err);
      }
    }
  }

  private get query(): Query {
    const team = this.serverTeam === undefined ? undefined : teamFieldSelector(this.serverTeam);
    const fields = [this.options.fieldSelector, team].filter((f) => f !== undefined && f !== '').join(',');
    return { labelSelector: this.options.labelSelector, fieldSelector: fields === '' ? undefined : fields };
  }

  /** The server leaves members out of the watch: a DELETED may be a member that left, an ADDED one that entered. */
  private get serverSelects(): boolean {
    return this.query.labelSelector !== undefined || this.query.fieldSelector !== undefined;
  }

  /** What the watcher selects itself: the teams, unless the server does. */
  private inTeams(state: MemberState): boolean {
    const teams = this.options.teams;
    return teams === undefined || (state.team !== undefined && teams.includes(state.team));
  }

  /** Before the first list has finished, what a list finds is the starting state: told only when greeting it. */
  private get telling(): boolean {
    return this.synced || this.options.greetExisting;
  }

  /** Lists, announces what the list tells, and returns the resourceVersion to watch from. */
  private async list(): Promise<string> {
    this.batch += 1;
    const resourceVersion = this.synced || this.partial ? await this.relist() : await this.firstList();
    this.resourceVersion = resourceVersion;
    return resourceVersion;
  }

  /** The first list greets items as they arrive, so output starts with the first bytes. */
  private async firstList(): Promise<string> {
    let count = 0;
    const resourceVersion = await this.pages(false, async (states) => {
      count += states.length;
      await this.greet(states);
    });
    this.finishFirstList(count);
    return resourceVersion;
  }

  /** A relist needs the whole snapshot before it can tell who left. */
  private async relist(): Promise<string> {
    const listed: S[] = [];
    const resourceVersion = await this.pages(true, async (states) => {
      listed.push(...states);
    });
    await this.reconcile(listed, resourceVersion);
    return resourceVersion;
  }

  /** What a relist found at `resourceVersion`, against what was announced. */
  private async reconcile(listed: S[], resourceVersion: string): Promise<void> {
    const selected = listed.filter((s) => this.inTeams(s));
    const departed = await this.departures(selected, listed, resourceVersion);
    const events = this.store.reconcile(selected, now(), departed);
    if (this.telling) this.emitAll(events);
    if (!this.synced) this.finishFirstList(this.store.size);
  }

  private finishFirstList(members: number): void {
    this.synced = true;
    this.partial = false;
    this.sink.status({ kind: 'listed', members });
  }

  /**
   * The list as a watch stream, as client-go's reflector asks for it: no resourceVersion (a consistent read, so a
   * relist never goes back behind what was announced), the current state as initial events, a bookmark annotated
   * k8s.io/initial-events-end at the resourceVersion they add up to, then the changes after it on the same
   * connection. A server that refuses the parameters, or whose initial events end or fall silent without that
   * bookmark, gets paged lists from then on: progress over streaming.
   */
  private async streamedList(): Promise<void> {
    const initial = new StreamedList<S>(this.synced || this.partial);
    this.batch += 1;
    this.initial = initial;
    try {
      await this.watch({ sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' }, 'streamed');
      if (this.initial === initial && !this.signal.aborted) {
        this.listInstead('the API server ended the initial events without the bookmark that ends them');
      }
    } catch (err) {
      if (this.initial !== initial) throw err;
      const refused = streamRefusal(err);
      if (refused === undefined) throw err;
      this.listInstead(refused);
    } finally {
      this.initial = undefined;
    }
  }

  private listInstead(why: string): void {
    this.streaming = false;
    this.kube.http.note(`listing instead of streaming the list: ${why}`);
  }

  /** One of a streamed list's initial events, or the bookmark that ends them. */
  private initialEvent(
    initial: StreamedList<S>,
    line: Exclude<WatchLine, { kind: 'error' }>,
    raw: unknown,
    text: string,
  ): Promise<void> | undefined {
    if (line.kind === 'malformed') return this.skip('list item', line.problem, text);
    if (line.kind === 'bookmark') return line.initialEventsEnd ? this.endInitialEvents(initial, line.resourceVersion) : undefined;
    const { object } = raw as { object: unknown };
    // The item alone, as a paged list shows it.
    if (!line.member.ok) return this.skip('list item', line.member.problem, JSON.stringify(object) ?? text);
    const state = this.options.project(object as MemberObject, line.member.value);
    if (!initial.gathering) return this.initialChange(line.type, state);
    initial.gather(line.type, state);
    return undefined;
  }

  /**
   * The first list greets as events arrive, as a paged one greets as items arrive; the server may send a change or a
   * deletion among them too (the starting state is what they add up to).
   */
  private initialChange(type: EventType, state: S): undefined {
    // From the first event on, the store holds what this list gave: a list that fails now is retried as a relist.
    this.partial = true;
    const time = now();
    const known = this.store.get(state.namespace, state.name);
    let event: MemberEvent<S> | undefined;
    if (type === 'DELETED' || this.inTeams(state)) event = this.store.apply(type, state, 'initial', time);
    else if (known?.uid === state.uid) event = this.store.leave(state, 'team', 'initial', time);
    if (event && this.options.greetExisting) this.sink.event({ ...event, batch: this.batch });
    return undefined;
  }

  /** The initial events are complete: the list is done, and the watch it opened goes on from `resourceVersion`. */
  private async endInitialEvents(initial: StreamedList<S>, resourceVersion: string): Promise<void> {
    this.initial = undefined;
    this.kube.http.note(`the initial events end at resourceVersion ${resourceVersion}`);
    if (initial.gathering) await this.reconcile(initial.gathered(), resourceVersion);
    else if (!this.synced) this.finishFirstList(this.store.size);
    // Only now: a relist that fails while it asks the API about departures is made again.
    this.resourceVersion = resourceVersion;
    this.goLive();
  }

  /** A paginated list: one snapshot (all pages share its resourceVersion); returns that resourceVersion. */
  private async pages(quorum: boolean, take: (states: S[]) => Promise<void>): Promise<string> {
    let token: string | undefined;
    for (;;) {
      const meta = await this.listPage(quorum, token, take).catch((err: unknown) => {
        throw token !== undefined && err instanceof ApiError && err.status === 410 ? new SnapshotExpired(err) : err;
      });
      if (meta.continue === undefined) return meta.resourceVersion;
      token = meta.continue;
    }
  }

  /**
   * One page, read item by item as it arrives so that no page is held whole. The first list asks for
   * resourceVersion 0, which the API server answers from its watch cache (as client-go's reflector does) instead
   * of reading etcd page after page: on servers whose cache does not paginate, one response streamed item by item.
   * A relist asks for the latest state (no resourceVersion), so that it never goes back behind what was announced.
   */
  private async listPage(quorum: boolean, token: string | undefined, take: (states: S[]) => Promise<void>): Promise<ListMeta> {
    const res = await this.kube.http.stream({
      method: 'GET',
      path: membersPath(this.options.namespace),
      query: {
        ...this.query,
        limit: this.options.pageSize,
        continue: token,
        resourceVersion: quorum || token !== undefined ? undefined : '0',
      },
      signal: this.signal,
    });
    this.answered();
    const splitter = new ListSplitter();
    res.setEncoding('utf8');
    try {
      for await (const chunk of res) {
        const states = this.decodeItems(splitter.push(chunk as string));
        if (states.length > 0) await take(states);
      }
    } catch (err) {
      res.destroy();
      throw err;
    }
    return this.listMeta(splitter.end());
  }

  /** A list was answered: the CRD exists. */
  private answered(): void {
    this.served = true;
    this.crdPoll.reset();
  }

  private decodeItems(texts: string[]): S[] {
    const states: S[] = [];
    for (const text of texts) {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        this.skip('list item', 'it is not JSON', text);
        continue;
      }
      const member = decodeMember(raw, this.options.namespace);
      if (member.ok) states.push(this.options.project(raw as MemberObject, member.value));
      else this.skip('list item', member.problem, text);
    }
    return states;
  }

  /** The list without its items. Anything but a Kubernetes list is final: retrying would get the same answer. */
  private listMeta(text: string): ListMeta {
    let meta: ListMeta | undefined;
    try {
      meta = decodeListMeta(JSON.parse(text));
    } catch {
      meta = undefined;
    }
    if (meta !== undefined) return meta;
    const { server, contextName } = this.kube.endpoint;
    throw new CliError(
      ExitCode.Cluster,
      `${server} answered the list of members with something that is not a Kubernetes list: ${excerpt(text)}`,
      {
        hint: `check that context ${contextName} points at a Kubernetes API server`,
      },
    );
  }

  /**
   * Of the members we announced that a relist no longer selects, those that still exist: the list itself shows
   * the ones whose team took them out (the watcher selects teams), the API at the list's resourceVersion the ones
   * the server's selectors left out.
   */
  private async departures(selected: S[], listed: S[], resourceVersion: string): Promise<Map<string, Departure<S>>> {
    const keep = new Set(selected.map((s) => memberKey(s.namespace, s.name)));
    const all = new Map(listed.map((s) => [memberKey(s.namespace, s.name), s]));
    const departed = new Map<string, Departure<S>>();
    const missing: S[] = [];
    for (const known of this.store.values()) {
      const key = memberKey(known.namespace, known.name);
      if (keep.has(key)) continue;
      const listedNow = all.get(key);
      if (listedNow?.uid === known.uid) departed.set(key, { state: listedNow, by: 'team' });
      else if (this.serverSelects) missing.push(known);
    }
    const found = await mapLimit(missing, RESOLVE_CONCURRENCY, (known) => this.stillThere(known, resourceVersion));
    for (const state of found) {
      if (typeof state === 'object') departed.set(memberKey(state.namespace, state.name), { state, by: this.leftBy(state) });
    }
    return departed;
  }

  private leftBy(state: S): SelectionChange['by'] {
    return this.inTeams(state) ? 'selector' : 'team';
  }

  /** The member `known` as it is at `resourceVersion` (or now, if that is compacted away); undefined once deleted. */
  private async stillThere(known: S, resourceVersion: string): Promise<S | undefined> {
    const at = { namespace: known.namespace, name: known.name, resourceVersion };
    let past: PastMember = await memberAt(this.kube, at, this.signal);
    if (past === 'expired') past = await memberNow(this.kube, at, this.signal);
    return this.sameMember(past, known.uid);
  }

  private sameMember(object: MemberObject | undefined, uid: string): S | undefined {
    if (object === undefined) return undefined;
    const member = decodeMember(object, object.metadata?.namespace);
    return member.ok && member.value.uid === uid ? this.options.project(object, member.value) : undefined;
  }

  private async greet(states: S[]): Promise<void> {
    // From the first item on, the store holds what this list gave: a list that fails now is retried as a relist.
    this.partial = true;
    const time = now();
    for (const state of states) {
      if (!this.inTeams(state)) continue;
      const event = this.store.apply('ADDED', state, 'initial', time);
      if (event && this.options.greetExisting) this.sink.event({ ...event, batch: this.batch });
    }
    const wait = this.sink.backpressure();
    if (wait) await wait;
  }

  /** The events of one list or relist, or of a CRD gone: they arrived together. */
  private emitAll(events: MemberEvent<S>[]): void {
    for (const event of events) this.sink.event({ ...event, batch: this.batch });
  }

  private skip(what: 'list item' | 'watch event', problem: string, text: string): undefined {
    this.sink.status({ kind: 'skipped', what, problem, text: excerpt(text) });
    return undefined;
  }

  /**
   * Watches from where `query` says: a resumed watch (not from a list just made) is live once it proves itself, a
   * streamed list once its initial events are complete.
   */
  private async watch(query: Query, start: 'resumed' | 'listed' | 'streamed'): Promise<void> {
    const res = await this.kube.http.stream({
      method: 'GET',
      path: membersPath(this.options.namespace),
      query: {
        ...this.query,
        watch: 1,
        ...query,
        allowWatchBookmarks: true,
        timeoutSeconds: this.options.watchTimeoutSeconds,
      },
      idleTimeoutMs: silenceLimitMs(this.options.watchTimeoutSeconds),
      signal: this.signal,
    });
    if (start === 'streamed') this.answered();
    this.livePending = true;
    if (start === 'listed') this.goLive();
    const proven = start === 'resumed' ? setTimeout(() => this.goLive(), PROVEN_AFTER_MS) : undefined;
    const opened = Date.now();
    let lines: number;
    let lasted: number;
    try {
      lines = await this.consume(res);
    } finally {
      // Also when an ERROR event ends the watch early: the connection must not linger.
      clearTimeout(proven);
      this.livePending = false;
      res.destroy();
      lasted = Date.now() - opened;
      this.backoff.connectionLasted(lasted);
    }
    // A server that closes at once without a word is failing, not timing out: back off rather than spin. "At once"
    // is well before the timeout asked for, which the server counts from before its answer began.
    if (lines === 0 && lasted < closedAtOnceBelowMs(this.options.watchTimeoutSeconds)) throw new ClosedAtOnce();
  }

  private goLive(): void {
    if (!this.livePending) return;
    this.livePending = false;
    this.sink.status({ kind: 'live', first: !this.liveOnce });
    this.liveOnce = true;
  }

  private async consume(res: IncomingMessage): Promise<number> {
    res.setEncoding('utf8');
    let rest = '';
    let count = 0;
    // Only the server's silence counts, not the time this process waits for its own reader or for the API.
    const silence = new Deadline(this.initialEventsSilenceMs, () =>
      res.destroy(
        new InitialEventsUnended(`no bookmark ending the initial events after ${this.initialEventsSilenceMs / 1000} s of silence`),
      ),
    );
    try {
      if (this.initial !== undefined) silence.arm();
      for await (const chunk of res) {
        silence.clear();
        const parts = (rest + (chunk as string)).split('\n');
        rest = parts.pop() ?? '';
        count += await this.handleAll(parts);
        const wait = this.sink.backpressure();
        if (wait) await wait;
        if (this.initial !== undefined) silence.arm();
      }
    } finally {
      silence.clear();
    }
    return count;
  }

  /** Returns how many lines were not blank. */
  private async handleAll(lines: string[]): Promise<number> {
    let count = 0;
    for (const line of lines) {
      if (line.trim() === '') continue;
      count += 1;
      const resolving = this.handle(line);
      if (resolving) await resolving;
    }
    return count;
  }

  /** Below the connection's own silence limit, which would otherwise end it first as a network failure. */
  private get initialEventsSilenceMs(): number {
    return Math.min(INITIAL_EVENTS_SILENCE_MS, silenceLimitMs(this.options.watchTimeoutSeconds) - 1_000);
  }

  /** One line of the watch; a promise when the API must first say what an event means (see `change`). */
  private handle(text: string): Promise<void> | undefined {
    const initial = this.initial;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return this.skip(initial ? 'list item' : 'watch event', 'it is not JSON', text);
    }
    const line = decodeWatchLine(raw, this.options.namespace);
    if (line.kind === 'error') throw watchError(line.status);
    // The server answered with news: earlier failures are over, so a cut after this reconnects at once
    // instead of waiting out a delay grown during an outage that has ended.
    this.backoff.reset();
    if (initial) return this.initialEvent(initial, line, raw, text);
    this.goLive();
    if (line.kind === 'malformed') return this.skip('watch event', line.problem, text);
    if (line.kind === 'bookmark') {
      this.resourceVersion = line.resourceVersion;
      return;
    }
    if (!line.member.ok) return this.skip('watch event', `${line.type} event: ${line.member.problem}`, text);
    const state = this.options.project((raw as { object: MemberObject }).object, line.member.value);
    return this.change(line.type, state);
  }

  /**
   * A change, with what the watch selects taken into account. The resourceVersion moves on only once the event is
   * told: if asking the API fails, the watch resumes from before the event and is sent it again.
   */
  private change(type: 'ADDED' | 'MODIFIED' | 'DELETED', state: S): Promise<void> | undefined {
    const known = this.store.get(state.namespace, state.name);
    const ours = known !== undefined && known.uid === state.uid;
    if (type === 'DELETED') {
      return ours && this.serverSelects ? this.deletedOrLeft(state) : this.told(this.store.apply(type, state, 'watch', now()), state);
    }
    if (!this.inTeams(state)) return this.told(ours ? this.store.leave(state, 'team', 'watch', now()) : undefined, state);
    if (known === undefined) return this.arrived(type, state);
    return this.told(this.store.apply(type, state, 'watch', now()), state);
  }

  /** A member we did not know, now selected: created, or entered the selection. */
  private arrived(type: 'ADDED' | 'MODIFIED', state: S): Promise<void> | undefined {
    // A MODIFIED: it existed, and the server's selectors chose it before: its team brought it in.
    if (type === 'MODIFIED' && this.options.teams !== undefined) return this.told(this.store.enter(state, 'team', 'watch', now()), state);
    if (type === 'ADDED' && this.serverSelects && this.resourceVersion !== undefined) return this.newOrEntered(state, this.resourceVersion);
    return this.told(this.store.apply(type, state, 'watch', now()), state);
  }

  private told(event: MemberEvent<S> | undefined, state: S): undefined {
    this.resourceVersion = state.resourceVersion;
    if (event) this.sink.event(event);
    return undefined;
  }

  /** A DELETED for a member the server's selectors chose: deleted, or still there at that version and left. */
  private async deletedOrLeft(state: S): Promise<void> {
    const still = await this.stillThere(state, state.resourceVersion);
    const event =
      still === undefined
        ? this.store.apply('DELETED', state, 'watch', now())
        : this.store.leave(still, this.leftBy(still), 'watch', now());
    this.told(event, state);
  }

  /** An ADDED for a member we did not know: created, or there already just before (at `before`) and entered. */
  private async newOrEntered(state: S, before: string): Promise<void> {
    const past = await memberAt(this.kube, { namespace: state.namespace, name: state.name, resourceVersion: before }, this.signal);
    // A version compacted away cannot say what was before: the member is welcomed as new.
    const earlier = past === 'expired' ? undefined : this.sameMember(past, state.uid);
    const event =
      earlier === undefined
        ? this.store.apply('ADDED', state, 'watch', now())
        : this.store.enter(state, this.inTeams(earlier) ? 'selector' : 'team', 'watch', now());
    this.told(event, state);
  }

  private async recover(err: unknown): Promise<void> {
    if (err instanceof SnapshotExpired) {
      this.resourceVersion = undefined;
      this.sink.status({ kind: 'relisting', snapshot: true });
      return;
    }
    if (err instanceof ApiError) return this.recoverFromApi(err);
    // The watcher's own ClosedAtOnce is a failure that can heal; for the rest, the client's one rule decides.
    if (err instanceof ClosedAtOnce || isTransient(err)) return this.retryLater(err);
    throw this.final(err);
  }

  private async recoverFromApi(err: ApiError): Promise<void> {
    if (this.serverTeam !== undefined && teamNotSelectable(err)) {
      // This server, or this CRD, cannot select by team: the watcher selects, from a list of every team.
      this.serverTeam = undefined;
      this.resourceVersion = undefined;
      return;
    }
    if (err.status === 410) {
      this.resourceVersion = undefined;
      this.sink.status({ kind: 'relisting' });
      return;
    }
    if (err.status === 404 && err.objectName === undefined) return this.crdGone();
    if (!isTransient(err)) throw this.final(err);
    await this.retryLater(err);
  }

  private final(err: unknown): CliError {
    if (err instanceof ApiError && err.status === 400)
      return new CliError(ExitCode.Usage, `the API server rejected the watch: ${err.message}`, { hint: 'check -l and --field-selector' });
    return this.kube.explain(err, memberOp('watch', this.options.namespace));
  }

  private async retryLater(err: Error): Promise<void> {
    const retryAfter = err instanceof ApiError ? err.retryAfterSeconds : undefined;
    const delayMs = this.backoff.next(retryAfter);
    const max = this.options.maxReconnects;
    if (max !== undefined && this.backoff.attempts > max) throw new ReconnectsExhausted(max, err);
    this.sink.status({ kind: 'reconnecting', cause: err, delayMs, attempt: this.backoff.attempts });
    await sleep(delayMs, undefined, { signal: this.signal }).catch(() => undefined);
  }

  /** The resource type is not served: not installed yet, or deleted while we watched. */
  private async crdGone(): Promise<void> {
    if (!this.served && !this.options.waitForCrd) throw crdMissing(MEMBER_CRD);
    const goodbyes = this.store.clear(now());
    if (this.telling) this.emitAll(goodbyes);
    this.resourceVersion = undefined;
    this.sink.status({ kind: 'waiting-for-crd' });
    await sleep(Math.min(this.crdPoll.next(), CRD_POLL_MAX_MS), undefined, { signal: this.signal }).catch(() => undefined);
  }
}

/**
 * Why a streamed list that failed before its initial events were complete is no streamed list at all, in words for
 * the debug log; undefined for a failure a paged list would meet too (retried, or final, as for any list): a network
 * failure, 400 (a bad selector), 401/403, 404 (the CRD), 429 and 5xx. 422: servers before 1.27 forbid
 * resourceVersionMatch on a watch, those from 1.27 with the WatchList feature off forbid sendInitialEvents. 410 while
 * the initial events arrive (they asked for no resourceVersion that could be too old): the server gave up on them.
 */
function streamRefusal(err: unknown): string | undefined {
  if (err instanceof InitialEventsUnended) return err.message;
  // Whatever it was (a proxy's answer that is no watch, a server shutting down), a paged list will tell.
  if (err instanceof ClosedAtOnce) return 'the API server ended the stream at once, without an initial event';
  if (!(err instanceof ApiError) || ![410, 422].includes(err.status)) return undefined;
  return `the API server answered HTTP ${err.status}: ${err.message}`;
}

/** An ERROR line ends the watch; code 410 (Expired) means our resourceVersion is older than what the server keeps. */
function watchError(status: ErrorStatus): ApiError {
  return new ApiError({
    status: status.code ?? 500,
    reason: status.reason ?? '',
    message: status.message ?? 'the API server ended the watch with an error it did not describe',
  });
}

function closedAtOnceBelowMs(watchTimeoutSeconds: number): number {
  return Math.min(1000, (watchTimeoutSeconds * 1000) / 2);
}

/** The server ends each watch after its timeout; silence well beyond that means the connection is dead. */
export function silenceLimitMs(watchTimeoutSeconds: number): number {
  const timeoutMs = watchTimeoutSeconds * 1000;
  return timeoutMs + Math.min(15_000, Math.max(2_000, timeoutMs / 10));
}

/**
 * What `watch` keeps of a member, for code that reads members from answers of its own (the operator's writes);
 * the watcher itself has already checked each object with decodeMember.
 */
export function memberState(object: MemberObject): MemberState {
  const member = decodeMember(object, object.metadata.namespace);
  if (!member.ok) throw new Error(`the API server answered with a member that cannot be read: ${member.problem}`);
  return member.value;
}
