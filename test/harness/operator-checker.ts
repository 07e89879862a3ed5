/**
 * Checks what `member-watch operator` replicas did against what really happened, member incarnation by member
 * incarnation (by uid).
 *
 * The truth is etcd's history of the Members (test/harness/etcd-history.ts): every creation, team change and
 * deletion, and what the operator wrote on the member itself. The record of the announcements is what the cluster
 * holds of them, whichever the operator makes its commit point: the member's status and the Events.
 * - the status: a welcome is the first version with `status.announcedAt`, announcing `status.announcedTeam`; a
 *   move a later version whose `status.announcedTeam` differs from the version before (from that team to this);
 *   a goodbye (finalizer on) the version without the operator's finalizer, or the deletion, after a version being
 *   deleted, welcomed and held by it, or a deletion that passed the finalizer (a welcomed version held by it, not
 *   being deleted, then gone);
 * - the Events, by involvedObject.uid and reason, each counted `count` or `series.count` times, whatever their
 *   names; the teams of a move read from the message, in the seed's words.
 * An announcement is in the record when either holds it (the same one in both counts once). With --no-finalizer
 * the deletion of a welcomed member allows one goodbye and requires none, unless an Event records it.
 *
 * Checked, against the record and every replica's JSON log (announcement lines carry the member's uid): the
 * promises of docs/operator.md ("What holds", "What is announced"), in its words, each followed by how.
 * - "at most one Welcomed, at most one Farewell, and at most one Moved per team change observed — never two for one
 *   change, never a move that does not continue the last announced team — as Events and as log lines": per uid at
 *   most one Welcomed and one Farewell, in the logs summed over replicas, in the Events, in the record; no line
 *   says what the record does not hold, nor more often; "The moves of a member always form one chain, in the order
 *   its teams were set": the moves of the record are one chain through the teams the member had, in its order,
 *   from its welcome; a status announces no team the member did not have by then;
 * - "every member alive at the end is welcomed and its status agrees with its spec (`status.announcedTeam` is
 *   `spec.memberOf`, `status.observedGeneration` is its generation, and it holds the finalizer exactly when the
 *   operator runs with it)": every member alive when the churn settled;
 * - "with the finalizer, every member deleted after its welcome is seen off (one that kube-apiserver deletes past
 *   the finalizer: unless the process acting at its deletion dies, stops leading or relists first, see Limits),
 *   and nothing stays Terminating": the record holds its goodbye; one deleted past the finalizer has a line or an
 *   Event, unless a process died, stopped leading or relisted around its deletion; no member's last version is
 *   being deleted;
 * - "a log line can be lost only where a process dies, or loses its answer and its Lease, between the commit and
 *   the line, and the Event then still exists wherever the cluster accepts Events; there is no other loss":
 *   everything recorded is logged, except where a replica died or stopped leading around it, and then its Event
 *   exists, unless the namespace refused Events by then (being deleted).
 */
import type { StoredChange, StoredState } from './etcd-history.js';

export const FINALIZER = 'helloworld.apimeister.com/farewell';
export type AnnouncementKind = 'Welcomed' | 'Moved' | 'Farewell';
const KINDS: readonly string[] = ['Welcomed', 'Moved', 'Farewell'];

/** One line of `operator --log-format json`. */
export interface LogLine {
  time: string;
  event: string;
  namespace: string | null;
  name: string | null;
  uid?: string | null;
  team: string | null;
  previousTeam: string | null;
  [extra: string]: unknown;
}

/** Everything one operator process logged, and how it ended. */
export interface ProcessLog {
  /** e.g. `replica 1, process 2` */
  label: string;
  lines: readonly LogLine[];
  /** Date.now() when it was killed (SIGKILL), if it was. */
  killedAt?: number | undefined;
}

/** A core/v1 Event as the API lists it (events.k8s.io Events included). */
export interface KubeEvent {
  metadata: { name?: string };
  involvedObject: { uid?: string; name?: string; namespace?: string };
  reason?: string;
  message?: string;
  count?: number;
  series?: { count?: number } | null;
  reportingInstance?: string;
  /** When it happened (events.k8s.io), or first and last happened (core/v1): the operator's clock. */
  eventTime?: string | Date | null;
  firstTimestamp?: string | Date | null;
  lastTimestamp?: string | Date | null;
}

export interface OperatorCheckOptions {
  namespaces: ReadonlySet<string>;
  finalizer: boolean;
  /** The revision at which the churn had settled: members alive then are checked as they stood then. */
  settledAt: number;
  /** Per namespace, Date.now() from which it refuses Events (its deletion began). */
  eventsRefusedFrom: ReadonlyMap<string, number>;
  /**
   * How long before a death or a step-down a commit may have been made whose answer the process never read: the
   * renew deadline (a leader's write is cut off when it stops leading) and a margin for a loaded machine.
   */
  answerWindowMs: number;
}

export interface OperatorFigures {
  /** Member incarnations (uids) in the history. */
  members: number;
  /** Announcements in the record (status and Events), by kind: members welcomed, moves, members seen off. */
  welcomes: number;
  moves: number;
  goodbyes: number;
  /** Announcement lines over every process's log. */
  logged: number;
  /** Announcement Events, each counted as often as it says it happened. */
  recorded: number;
  /** Announcements no log line tells. */
  untold: number;
  /** Of those, where a process died or stopped leading around the commit and the Event tells it. */
  excused: number;
  /** Announcements without their Event, in namespaces that accepted Events then. */
  eventless: number;
  /** Lines beyond the record, and Events of a welcome or a goodbye beyond one. */
  repeated: number;
  /** Terms of leadership begun (`Leading` lines). */
  leaderships: number;
  /** Relists (`Relisting` lines). */
  relists: number;
}

export interface OperatorVerdict {
  figures: OperatorFigures;
  /** One line per problem, naming the member and its true story; empty when all is well. */
  problems: string[];
}

/** An announcement the member's versions record (its status, its finalizer). */
interface Commit {
  kind: AnnouncementKind;
  revision: number;
  seenAt: number;
  team: string | null;
  previousTeam: string | null;
  /** A goodbye without the finalizer: allowed once, not owed. */
  optional: boolean;
}

/** One member incarnation: its changes, and what was said of it. */
interface Incarnation {
  uid: string;
  namespace: string;
  name: string;
  changes: StoredChange[];
}

interface Said {
  kind: AnnouncementKind;
  team: string | null;
  previousTeam: string | null;
  /** How many times: 1 for a line, the count for an Event. */
  times: number;
  /** Date.now() when it happened, for an Event (its own time). */
  at: number | undefined;
  /** For the report: which process, or which Event object. */
  where: string;
}

/** What one uid was told as: log lines and Events. */
interface Told {
  lines: Said[];
  events: Said[];
  unreadable: string[];
}

/** One announcement of the record (status and Events together), and how often each source has it. */
interface Entry {
  kind: AnnouncementKind;
  team: string | null;
  previousTeam: string | null;
  /** In the status (versions of the member). */
  status: number;
  events: number;
  lines: number;
  /** Date.now() moments of it: status commits as the history saw them, Events' own times. */
  moments: number[];
  /** A goodbye without the finalizer, that no Event records: allowed, not owed. */
  optional: boolean;
}

/** The record of one uid, by announcement (`Welcomed blue`, `Moved blue -> red`, `Farewell`). */
type Ledger = Map<string, Entry>;

export function checkOperator(
  truth: readonly StoredChange[],
  logs: readonly ProcessLog[],
  events: readonly KubeEvent[],
  options: OperatorCheckOptions,
): OperatorVerdict {
  const incarnations = incarnationsOf(truth, options);
  const problems: string[] = [];
  const figures = emptyFigures(incarnations.size, logs);
  const told = toldByUid(logs, events, incarnations, options.namespaces, problems);
  const excuses = excusesOf(logs, options.answerWindowMs);
  for (const member of incarnations.values()) {
    const mine = told.get(member.uid) ?? { lines: [], events: [], unreadable: [] };
    const welcomedByEvent = mine.events.some((e) => e.kind === 'Welcomed');
    const commits = commitsOf(member.changes, options.finalizer, welcomedByEvent);
    const record = recordOf(commits, mine);
    const found = checkIncarnation({ member, commits, record, told: mine }, excuses, options);
    addFigures(figures, record, found);
    problems.push(...found.problems.map((p) => `${describe(member, commits)}: ${p}`));
  }
  return { figures, problems };
}

// --- the truth: incarnations and what their versions record ---

function incarnationsOf(truth: readonly StoredChange[], options: OperatorCheckOptions): Map<string, Incarnation> {
  const byUid = new Map<string, Incarnation>();
  for (const change of truth) {
    if (!options.namespaces.has(change.namespace)) continue;
    const member = byUid.get(change.uid) ?? { uid: change.uid, namespace: change.namespace, name: change.name, changes: [] };
    byUid.set(change.uid, member);
    member.changes.push(change);
  }
  return byUid;
}

function commitsOf(changes: readonly StoredChange[], finalizer: boolean, welcomedByEvent: boolean): Commit[] {
  const commits: Commit[] = [];
  let before: StoredState | undefined;
  for (const change of changes) {
    const commit = change.kind === 'put' ? statusCommit(before, change.stored) : undefined;
    if (commit !== undefined) commits.push({ ...commit, revision: change.revision, seenAt: change.seenAt, optional: false });
    // Only a member its status says welcomed is seen off by the release of its finalizer; one welcomed by its
    // Event alone is released without a word, and its goodbye, if any, is in the Events. Without the finalizer the
    // deletion allows a goodbye to a member welcomed by its status or its Welcomed Event ("Limits": --no-finalizer),
    // whose Event the cluster may refuse: the line is then its only record.
    const welcomed = before?.announcedAt != null || (!finalizer && welcomedByEvent);
    const goodbye = before !== undefined && welcomed ? goodbyeCommit(before, change, finalizer) : undefined;
    if (goodbye !== undefined) {
      commits.push({ ...goodbye, revision: change.revision, seenAt: change.seenAt, previousTeam: null, team: null });
    }
    before = change.stored;
  }
  return commits;
}

/** Held by the finalizer, never marked deleted, then gone: kube-apiserver let a delete that read it before the finalizer remove it (kubernetes#77988). */
function passedFinalizer(before: StoredState, change: StoredChange): boolean {
  return change.kind === 'delete' && !before.deleting && before.finalizers.includes(FINALIZER);
}

function statusCommit(before: StoredState | undefined, now: StoredState): Pick<Commit, 'kind' | 'team' | 'previousTeam'> | undefined {
  if (now.announcedAt === null) return undefined;
  if (before === undefined || before.announcedAt === null) return { kind: 'Welcomed', team: now.announcedTeam, previousTeam: null };
  if (before.announcedTeam === now.announcedTeam) return undefined;
  return { kind: 'Moved', team: now.announcedTeam, previousTeam: before.announcedTeam };
}

/**
 * The goodbye of a welcomed member: its finalizer released while it is deleted, or (without it, or past it) the
 * deletion, which allows one goodbye and requires none here (checkDeletion says when one is owed).
 */
function goodbyeCommit(before: StoredState, change: StoredChange, finalizer: boolean): Pick<Commit, 'kind' | 'optional'> | undefined {
  if (!finalizer) return change.kind === 'delete' ? { kind: 'Farewell', optional: true } : undefined;
  if (passedFinalizer(before, change)) return { kind: 'Farewell', optional: true };
  const released = change.kind === 'delete' || !change.stored.finalizers.includes(FINALIZER);
  if (before.deleting && before.finalizers.includes(FINALIZER) && released) return { kind: 'Farewell', optional: false };
  return undefined;
}

/** Status and Events together: an announcement both hold counts once; each source's count and moments kept. */
function recordOf(commits: readonly Commit[], told: Told): Ledger {
  const record: Ledger = new Map();
  const entry = (said: Pick<Said, 'kind' | 'team' | 'previousTeam'>): Entry => {
    const key = announcement(said);
    const found = record.get(key) ?? { ...pick(said), status: 0, events: 0, lines: 0, moments: [], optional: true };
    record.set(key, found);
    return found;
  };
  for (const commit of commits) {
    const e = entry(commit);
    e.status += 1;
    e.moments.push(commit.seenAt);
    e.optional &&= commit.optional;
  }
  for (const event of told.events) {
    const e = entry(event);
    e.events += event.times;
    e.optional = false;
    if (event.at !== undefined) e.moments.push(event.at);
  }
  for (const line of told.lines) entry(line).lines += 1;
  return record;
}

function pick(said: Pick<Said, 'kind' | 'team' | 'previousTeam'>): Pick<Entry, 'kind' | 'team' | 'previousTeam'> {
  return { kind: said.kind, team: said.team, previousTeam: said.previousTeam };
}

/** How many times the record holds it: as often as the source that holds it most. */
function recorded(entry: Entry): number {
  return Math.max(entry.status, entry.events);
}

// --- what was said ---

function toldByUid(
  logs: readonly ProcessLog[],
  events: readonly KubeEvent[],
  incarnations: ReadonlyMap<string, Incarnation>,
  namespaces: ReadonlySet<string>,
  problems: string[],
): Map<string, Told> {
  const told = new Map<string, Told>();
  const of = (uid: string): Told => {
    const entry = told.get(uid) ?? { lines: [], events: [], unreadable: [] };
    told.set(uid, entry);
    return entry;
  };
  for (const log of logs) {
    for (const line of log.lines.filter((l) => KINDS.includes(l.event) && namespaces.has(l.namespace ?? ''))) {
      const member = incarnations.get(line.uid ?? '');
      if (member === undefined || member.name !== line.name)
        problems.push(`${log.label} announced a member that never was: ${JSON.stringify(line)}`);
      else of(member.uid).lines.push(fromLine(line, log.label));
    }
  }
  for (const event of events.filter((e) => KINDS.includes(e.reason ?? ''))) {
    const member = incarnations.get(event.involvedObject.uid ?? '');
    if (member === undefined) continue;
    const said = fromEvent(event, member.name);
    if (said === undefined) of(member.uid).unreadable.push(`${event.reason ?? ''} Event "${event.message ?? ''}"`);
    else of(member.uid).events.push(said);
  }
  return told;
}

function fromLine(line: LogLine, where: string): Said {
  return { kind: line.event as AnnouncementKind, team: line.team, previousTeam: line.previousTeam, times: 1, at: undefined, where };
}

/** The teams an Event's message names, in the seed's words (the same as the log's `msg`). */
function fromEvent(event: KubeEvent, name: string): Said | undefined {
  const kind = event.reason as AnnouncementKind;
  const times = Math.max(event.count ?? 0, event.series?.count ?? 0, 1);
  const where = `Event ${event.metadata.name ?? '?'} (${event.reportingInstance ?? 'no instance'}, x${times})`;
  const teams = teamsIn(kind, event.message ?? '', name);
  return teams === undefined ? undefined : { kind, ...teams, times, at: eventAt(event), where };
}

/** The Event's own time (the operator's clock, the machine's): when it happened, or first happened. */
function eventAt(event: KubeEvent): number | undefined {
  const time = event.eventTime ?? event.firstTimestamp ?? event.lastTimestamp;
  if (time === undefined || time === null) return undefined;
  const ms = new Date(time).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** The seed's sentences for each announcement, `NAME` standing for the member's name. */
const SENTENCES: Record<AnnouncementKind, readonly string[]> = {
  Welcomed: ['welcome NAME', 'welcome NAME to the team (?<team>.+)'],
  Moved: [
    'NAME moved from team (?<previous>.+) to team (?<team>.+)',
    'NAME joined the team (?<team>.+)',
    'NAME left the team (?<previous>.+)',
  ],
  Farewell: ['sad to see you go NAME'],
};

function teamsIn(kind: AnnouncementKind, message: string, name: string): { team: string | null; previousTeam: string | null } | undefined {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const sentence of SENTENCES[kind]) {
    const match = new RegExp(`^${sentence.replace('NAME', escaped)}$`).exec(message);
    if (match !== null) return { team: match.groups?.['team'] ?? null, previousTeam: match.groups?.['previous'] ?? null };
  }
  return undefined;
}

// --- excuses: a process died or stopped leading around a commit ---

interface Excuses {
  /** A process died or stopped leading around that moment: a line may be lost. */
  lost(seenAt: number): boolean;
  /** That, or a process relisted: a deletion may have gone unseen by the process acting then. */
  unseen(seenAt: number): boolean;
}

/** Date.now() moments at which a process died, stopped leading or relisted, each with a window around it. */
function excusesOf(logs: readonly ProcessLog[], windowMs: number): Excuses {
  const moments = (events: readonly string[]): number[] =>
    logs.flatMap((log) => [
      ...(log.killedAt === undefined ? [] : [log.killedAt]),
      ...log.lines.filter((line) => events.includes(line.event)).map((line) => Date.parse(line.time)),
    ]);
  const near = (list: readonly number[]) => (seenAt: number) => list.some((m) => Math.abs(m - seenAt) <= windowMs);
  return { lost: near(moments(['StoppedLeading'])), unseen: near(moments(['StoppedLeading', 'Relisting'])) };
}

// --- one incarnation ---

interface Case {
  member: Incarnation;
  /** What the member's versions record. */
  commits: readonly Commit[];
  /** Status and Events together, with the lines. */
  record: Ledger;
  told: Told;
}

interface Found {
  problems: string[];
  untold: number;
  excused: number;
  eventless: number;
  repeated: number;
}

function checkIncarnation(c: Case, excuses: Excuses, options: OperatorCheckOptions): Found {
  const found: Found = { problems: [], untold: 0, excused: 0, eventless: 0, repeated: 0 };
  found.problems.push(...c.told.unreadable.map((u) => `an Event whose message is not the seed's words: ${u}`));
  checkOnce(c, found);
  checkLines(c, found);
  checkChain(c, found);
  checkStatusTeams(c, found);
  checkTold(c, excuses.lost, options, found);
  checkEnd(c, excuses.unseen, options, found);
  return found;
}

/** `Welcomed blue`, `Moved blue -> red`, `Farewell`: an announcement and the teams it names. */
function announcement(said: Pick<Said, 'kind' | 'team' | 'previousTeam'>): string {
  const team = (t: string | null): string => t ?? '(none)';
  if (said.kind === 'Moved') return `Moved ${team(said.previousTeam)} -> ${team(said.team)}`;
  return said.kind === 'Welcomed' ? `Welcomed ${team(said.team)}` : 'Farewell';
}

/** At most one welcome and one goodbye per uid: in the logs summed over replicas, in the Events, in the record. */
function checkOnce(c: Case, found: Found): void {
  for (const kind of ['Welcomed', 'Farewell'] as const) {
    for (const [how, said] of [
      ['logged', c.told.lines],
      ['recorded as Events', c.told.events],
    ] as const) {
      const mine = said.filter((s) => s.kind === kind);
      const times = mine.reduce((n, s) => n + s.times, 0);
      if (times <= 1) continue;
      found.repeated += times - 1;
      const where = mine.map((s) => (kind === 'Welcomed' ? `${s.team ?? '(none)'} by ${s.where}` : s.where));
      found.problems.push(`${kind} ${how} ${times} times (${where.join(', ')})`);
    }
    const kept = [...c.record.values()].filter((e) => e.kind === kind && recorded(e) > 0);
    if (kept.length > 1) found.problems.push(`the record holds ${kept.map(announcement).join(' and ')}: two ${kind}`);
  }
}

/** No line says what the record does not hold, nor more often than it holds it. */
function checkLines(c: Case, found: Found): void {
  for (const [key, entry] of c.record) {
    const allowed = recorded(entry);
    if (entry.lines <= allowed || (entry.kind !== 'Moved' && entry.lines > 1)) continue;
    found.repeated += entry.lines - allowed;
    const where = c.told.lines.filter((l) => announcement(l) === key).map((l) => l.where);
    found.problems.push(`${key} logged ${entry.lines} times, recorded ${allowed} (${where.join(', ')})`);
  }
}

/**
 * The record's moves, from its welcome, are one chain through the member's teams in their order: each continues
 * the team announced before it, and none is made twice for one change (a team it moved to twice it had twice).
 */
function checkChain(c: Case, found: Found): void {
  const moves = [...c.record.values()].filter((e) => e.kind === 'Moved' && recorded(e) > 0);
  if (moves.length === 0) return;
  const welcome = [...c.record.values()].find((e) => e.kind === 'Welcomed' && recorded(e) > 0);
  const listed = moves.map((m) => `${announcement(m)} x${recorded(m)}`).join(', ');
  if (welcome === undefined) {
    found.problems.push(`moves without a welcome: ${listed}`);
    return;
  }
  const left = new Map(moves.map((m) => [`${String(m.previousTeam)}>${String(m.team)}`, recorded(m)]));
  const total = moves.reduce((n, m) => n + recorded(m), 0);
  if (
    !chains(
      teamRuns(c.member.changes).map((r) => r.team),
      welcome.team,
      left,
      total,
    )
  ) {
    found.problems.push(
      `the moves recorded (status and Events) are no chain through its teams from its welcome (${announcement(welcome)}): ${listed}`,
    );
  }
}

/**
 * Whether the teams can be walked from `start`, in order, skipping any, so that each step uses one of the moves
 * left (`from>to` to its count) and all of them are used. A depth-first search; members have a few moves each.
 */
function chains(teams: readonly (string | null)[], start: string | null, left: Map<string, number>, total: number): boolean {
  const walk = (at: number, team: string | null, remaining: number): boolean => {
    if (remaining === 0) return true;
    for (let next = at + 1; next < teams.length; next++) {
      const to = teams[next] as string | null;
      const key = `${String(team)}>${String(to)}`;
      const count = left.get(key) ?? 0;
      if (to === team || count === 0) continue;
      left.set(key, count - 1);
      const found = walk(next, to, remaining - 1);
      left.set(key, count);
      if (found) return true;
    }
    return false;
  };
  return teams.some((team, at) => team === start && walk(at, team, total));
}

/** A status announces only teams the member had by then, in its order (each at or before its commit). */
function checkStatusTeams(c: Case, found: Found): void {
  const runs = teamRuns(c.member.changes);
  let at = -1;
  for (const commit of c.commits) {
    if (commit.kind === 'Farewell') continue;
    const next = runs.findIndex((run, i) => i > at && run.team === commit.team && run.revision <= commit.revision);
    if (next < 0) {
      found.problems.push(
        `${announcement(commit)} committed to the status at ${commit.revision}, a team it did not have then, or not after the last one announced`,
      );
      continue;
    }
    at = next;
  }
}

/** The member's teams in order, a team kept over several versions counted once. */
function teamRuns(changes: readonly StoredChange[]): Array<{ team: string | null; revision: number }> {
  const runs: Array<{ team: string | null; revision: number }> = [];
  for (const change of changes) {
    if (change.kind === 'put' && runs.at(-1)?.team !== change.team) runs.push({ team: change.team, revision: change.revision });
  }
  return runs;
}

/** Everything recorded is logged, or, where its writer died or lost its Lease, told by its Event where Events were taken. */
function checkTold(c: Case, excused: (at: number) => boolean, options: OperatorCheckOptions, found: Found): void {
  const refusedFrom = options.eventsRefusedFrom.get(c.member.namespace) ?? Number.POSITIVE_INFINITY;
  for (const [key, entry] of c.record) {
    const owed = recorded(entry);
    const accepted = entry.moments.some((m) => m < refusedFrom);
    if (!entry.optional && accepted) found.eventless += Math.max(0, owed - entry.events);
    const untold = entry.optional ? 0 : owed - Math.min(entry.lines, owed);
    if (untold === 0) continue;
    found.untold += untold;
    const when = `at ${entry.moments.map((m) => new Date(m).toISOString()).join(', ') || 'an unknown time'}`;
    if (!entry.moments.some(excused)) {
      found.problems.push(`${key} recorded ${when} but never logged (no process died or stopped leading then)`);
    } else if (entry.events < owed && accepted) {
      found.problems.push(`${key} recorded ${when}, its line lost with its process or Lease, and no Event either`);
    } else {
      found.excused += untold;
    }
  }
}

/** Deleted after the welcome: seen off (finalizer on); nothing Terminating; alive when the churn settled: as wanted. */
function checkEnd(c: Case, unseen: (at: number) => boolean, options: OperatorCheckOptions, found: Found): void {
  checkDeletion(c, unseen, options.finalizer, found);
  const settled = c.member.changes.filter((change) => change.revision <= options.settledAt).at(-1);
  if (settled === undefined || settled.kind === 'delete' || settled.stored.deleting) return;
  const problem = settledProblem(settled, options.finalizer);
  if (problem !== undefined) found.problems.push(`when the churn settled at ${options.settledAt}: ${problem}`);
}

function checkDeletion(c: Case, unseen: (at: number) => boolean, finalizer: boolean, found: Found): void {
  const last = c.member.changes.at(-1);
  if (last?.kind === 'put' && last.stored.deleting) {
    found.problems.push(`left Terminating (finalizers ${last.stored.finalizers.join(', ') || 'none'})`);
  }
  const welcomed = [...c.record.values()].some((e) => e.kind === 'Welcomed' && recorded(e) > 0);
  const deleted = c.member.changes.some((change) => change.stored.deleting || change.kind === 'delete');
  if (finalizer && welcomed && deleted) checkSeenOff(c, unseen, found);
}

/**
 * A member deleted after its welcome is seen off; one deleted past the finalizer by a line or an Event, unless a
 * process died, stopped leading or relisted around its deletion.
 */
function checkSeenOff(c: Case, unseen: (at: number) => boolean, found: Found): void {
  const farewells = [...c.record.values()].filter((e) => e.kind === 'Farewell');
  const [before, last] = c.member.changes.slice(-2);
  if (before === undefined || last === undefined || !passedFinalizer(before.stored, last)) {
    if (!farewells.some((e) => recorded(e) > 0)) found.problems.push('deleted after its welcome without a goodbye');
  } else if (!farewells.some((e) => e.lines + e.events > 0) && !unseen(last.seenAt)) {
    found.problems.push(
      'deleted past the finalizer after its welcome without a goodbye (no process died, stopped leading or relisted then)',
    );
  }
}

function settledProblem(change: StoredChange, finalizer: boolean): string | undefined {
  const { stored, team } = change;
  if (stored.announcedAt === null) return 'alive but never welcomed';
  if (stored.announcedTeam !== team) return `status announces team ${String(stored.announcedTeam)}, spec says ${String(team)}`;
  if (stored.observedGeneration !== stored.generation) {
    return `status.observedGeneration ${String(stored.observedGeneration)}, generation ${stored.generation}`;
  }
  if (stored.finalizers.includes(FINALIZER) !== finalizer) return `finalizers ${stored.finalizers.join(', ') || 'none'}`;
  return undefined;
}

// --- figures and words ---

function emptyFigures(members: number, logs: readonly ProcessLog[]): OperatorFigures {
  const count = (event: string): number => logs.reduce((n, log) => n + log.lines.filter((l) => l.event === event).length, 0);
  return {
    members,
    welcomes: 0,
    moves: 0,
    goodbyes: 0,
    logged: 0,
    recorded: 0,
    untold: 0,
    excused: 0,
    eventless: 0,
    repeated: 0,
    leaderships: count('Leading'),
    relists: count('Relisting'),
  };
}

function addFigures(figures: OperatorFigures, record: Ledger, found: Found): void {
  for (const entry of record.values()) {
    // A welcome or a goodbye recorded twice is one member welcomed or seen off (and a problem of its own).
    const owed = entry.optional ? 0 : recorded(entry);
    if (entry.kind === 'Welcomed') figures.welcomes += Math.min(owed, 1);
    else if (entry.kind === 'Moved') figures.moves += owed;
    else figures.goodbyes += Math.min(owed, 1);
    figures.logged += entry.lines;
    figures.recorded += entry.events;
  }
  figures.untold += found.untold;
  figures.excused += found.excused;
  figures.eventless += found.eventless;
  figures.repeated += found.repeated;
}

/** `ns/name (uid 1a2b3c4d, truth: blue@12 red@15 deleting:red@20 deleted@22; status: Welcomed blue@13 ...)` */
function describe(member: Incarnation, commits: readonly Commit[]): string {
  const story = member.changes.map((c) => {
    if (c.kind === 'delete') return `deleted@${c.revision}`;
    return `${c.stored.deleting ? 'deleting:' : ''}${c.team ?? '(none)'}@${c.revision}`;
  });
  const statuses = commits.map((c) => `${announcement(c)}@${c.revision}`);
  return `${member.namespace}/${member.name} (uid ${member.uid.slice(0, 8)}, truth: ${dedupe(story).join(' ')}; status: ${statuses.join(', ') || 'nothing'})`;
}

/** Consecutive repeats once (labels and status writes make versions that look alike in the story). */
function dedupe(words: readonly string[]): string[] {
  return words.filter((w, i) => i === 0 || w.replace(/@\d+$/, '') !== (words[i - 1] ?? '').replace(/@\d+$/, ''));
}
