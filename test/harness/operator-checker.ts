/**
 * Checks what `member-watch operator` replicas did against what really happened, member incarnation by member
 * incarnation (by uid).
 *
 * The truth is etcd's history of the Members (test/harness/etcd-history.ts): every creation, team change and
 * deletion, and what the operator committed on the member itself, which is its record of the announcements:
 * - a welcome: the first version whose status has `announcedAt`, announcing `status.announcedTeam`;
 * - a move: a later version whose `status.announcedTeam` differs from the version before (from that team to this);
 * - a goodbye (finalizer on): the version without the operator's finalizer, or the deletion, after a version
 *   being deleted, welcomed and held by it. With --no-finalizer there is no record: the deletion of a welcomed
 *   member allows one goodbye and requires none.
 *
 * What was said is every replica's JSON log (announcement lines carry the member's uid) and the Kubernetes Events
 * (by involvedObject.uid and reason, each counted `count` or `series.count` times, whatever their names). Checked:
 * - per uid at most one Welcomed and one Farewell, in the logs summed over replicas and in the Events;
 * - every Moved, in the logs and in the Events, is one committed move (from the team announced before it to the
 *   team after), at most once: never two for one change, never one that does not continue the last announced team;
 * - nothing is said that was not committed, and the committed teams are teams the member had, in its order;
 * - every commit is logged, except where a replica died or stopped leading (lost its answer and its Lease) around
 *   it, and then its Event exists, unless the namespace refused Events by then (being deleted);
 * - every member alive when the churn settled is welcomed, its status agrees with its spec (team, generation) and
 *   it carries the finalizer exactly when the operator runs with it; with the finalizer, every member deleted
 *   after its welcome was seen off, and nothing stays Terminating.
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
  /** Announcements committed, by kind. */
  welcomes: number;
  moves: number;
  goodbyes: number;
  /** Announcement lines over every process's log. */
  logged: number;
  /** Announcement Events, each counted as often as it says it happened. */
  recorded: number;
  /** Commits no log line tells. */
  untold: number;
  /** Of those, where a process died or stopped leading around the commit. */
  excused: number;
  /** Commits without their Event, in namespaces that accepted Events then. */
  eventless: number;
  /** Lines and Event occurrences beyond what was committed: twice, or never committed. */
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

interface Commit {
  kind: AnnouncementKind;
  revision: number;
  seenAt: number;
  team: string | null;
  previousTeam: string | null;
  /** A goodbye without the finalizer: allowed once, not owed. */
  optional: boolean;
}

/** One member incarnation: its changes, and the announcements its versions record. */
interface Incarnation {
  uid: string;
  namespace: string;
  name: string;
  changes: StoredChange[];
  commits: Commit[];
}

interface Said {
  kind: AnnouncementKind;
  team: string | null;
  previousTeam: string | null;
  /** How many times: 1 for a line, the count for an Event. */
  times: number;
  /** For the report: which process, or which Event object. */
  where: string;
}

/** What one uid was told as: log lines and Events. */
interface Told {
  lines: Said[];
  events: Said[];
  unreadable: string[];
}

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
    const found = checkIncarnation(member, mine, excuses, options);
    addFigures(figures, member, mine, found);
    problems.push(...found.problems.map((p) => `${describe(member)}: ${p}`));
  }
  return { figures, problems };
}

// --- the truth: incarnations and their commits ---

function incarnationsOf(truth: readonly StoredChange[], options: OperatorCheckOptions): Map<string, Incarnation> {
  const byUid = new Map<string, Incarnation>();
  for (const change of truth) {
    if (!options.namespaces.has(change.namespace)) continue;
    let member = byUid.get(change.uid);
    if (member === undefined) {
      member = { uid: change.uid, namespace: change.namespace, name: change.name, changes: [], commits: [] };
      byUid.set(change.uid, member);
    }
    member.changes.push(change);
  }
  for (const member of byUid.values()) member.commits = commitsOf(member.changes, options.finalizer);
  return byUid;
}

function commitsOf(changes: readonly StoredChange[], finalizer: boolean): Commit[] {
  const commits: Commit[] = [];
  let before: StoredState | undefined;
  for (const change of changes) {
    const commit = change.kind === 'put' ? statusCommit(before, change.stored) : undefined;
    if (commit !== undefined) commits.push({ ...commit, revision: change.revision, seenAt: change.seenAt, optional: false });
    const goodbye = goodbyeCommit(before, change, finalizer);
    if (goodbye !== undefined)
      commits.push({ ...goodbye, revision: change.revision, seenAt: change.seenAt, previousTeam: null, team: null });
    before = change.stored;
  }
  return commits;
}

function statusCommit(before: StoredState | undefined, now: StoredState): Pick<Commit, 'kind' | 'team' | 'previousTeam'> | undefined {
  if (now.announcedAt === null) return undefined;
  if (before === undefined || before.announcedAt === null) return { kind: 'Welcomed', team: now.announcedTeam, previousTeam: null };
  if (before.announcedTeam === now.announcedTeam) return undefined;
  return { kind: 'Moved', team: now.announcedTeam, previousTeam: before.announcedTeam };
}

function goodbyeCommit(
  before: StoredState | undefined,
  change: StoredChange,
  finalizer: boolean,
): Pick<Commit, 'kind' | 'optional'> | undefined {
  if (before === undefined || before.announcedAt === null) return undefined;
  if (!finalizer) return change.kind === 'delete' ? { kind: 'Farewell', optional: true } : undefined;
  const released = change.kind === 'delete' || !change.stored.finalizers.includes(FINALIZER);
  if (before.deleting && before.finalizers.includes(FINALIZER) && released) return { kind: 'Farewell', optional: false };
  return undefined;
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
  return { kind: line.event as AnnouncementKind, team: line.team, previousTeam: line.previousTeam, times: 1, where };
}

/** The teams an Event's message names, in the seed's words (the same as the log's `msg`). */
function fromEvent(event: KubeEvent, name: string): Said | undefined {
  const kind = event.reason as AnnouncementKind;
  const times = Math.max(event.count ?? 0, event.series?.count ?? 0, 1);
  const where = `Event ${event.metadata.name ?? '?'} (${event.reportingInstance ?? 'no instance'}, x${times})`;
  const teams = teamsIn(kind, event.message ?? '', name);
  return teams === undefined ? undefined : { kind, ...teams, times, where };
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

/** Date.now() moments at which a process died or stopped leading, each with a window around it. */
function excusesOf(logs: readonly ProcessLog[], windowMs: number): (seenAt: number) => boolean {
  const moments: number[] = [];
  for (const log of logs) {
    if (log.killedAt !== undefined) moments.push(log.killedAt);
    for (const line of log.lines) if (line.event === 'StoppedLeading') moments.push(Date.parse(line.time));
  }
  return (seenAt) => moments.some((m) => Math.abs(m - seenAt) <= windowMs);
}

// --- one incarnation ---

interface Found {
  problems: string[];
  untold: number;
  excused: number;
  eventless: number;
  repeated: number;
}

function checkIncarnation(member: Incarnation, told: Told, excused: (seenAt: number) => boolean, options: OperatorCheckOptions): Found {
  const found: Found = { problems: [], untold: 0, excused: 0, eventless: 0, repeated: 0 };
  found.problems.push(...told.unreadable.map((u) => `an Event whose message is not the seed's words: ${u}`));
  checkSaid(member, told.lines, 'logged', found);
  checkSaid(member, told.events, 'recorded as Events', found);
  checkCommittedTeams(member, found);
  checkTold(member, told, excused, options, found);
  checkEnd(member, options, found);
  return found;
}

function transition(said: Pick<Said, 'kind' | 'team' | 'previousTeam'>): string {
  const team = (t: string | null): string => t ?? '(none)';
  if (said.kind === 'Moved') return `Moved ${team(said.previousTeam)} -> ${team(said.team)}`;
  return said.kind === 'Welcomed' ? `Welcomed ${team(said.team)}` : 'Farewell';
}

function tally<T>(items: readonly T[], key: (item: T) => string, times: (item: T) => number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + times(item));
  return counts;
}

/**
 * What was said (lines or Events) against what was committed: nothing twice, nothing uncommitted. A welcome or a
 * goodbye is committed at most once per uid, so this is also "at most one Welcomed, one Farewell".
 */
function checkSaid(member: Incarnation, said: readonly Said[], how: string, found: Found): void {
  const committed = tally(member.commits, transition, () => 1);
  for (const [key, times] of tally(said, transition, (s) => s.times)) {
    const allowed = committed.get(key) ?? 0;
    if (times <= allowed) continue;
    found.repeated += times - allowed;
    const where = said.filter((s) => transition(s) === key).map((s) => s.where);
    found.problems.push(`${key} ${how} ${times} times, committed ${allowed} (${where.join(', ')})`);
  }
}

/** The teams the status announced are teams the member had, in its order (each one at or before its commit). */
function checkCommittedTeams(member: Incarnation, found: Found): void {
  const runs = teamRuns(member.changes);
  let at = -1;
  for (const commit of member.commits) {
    if (commit.kind === 'Farewell') continue;
    const next = runs.findIndex((run, i) => i > at && run.team === commit.team && run.revision <= commit.revision);
    if (next < 0) {
      found.problems.push(
        `${transition(commit)} committed at ${commit.revision}, a team it did not have then, or not after the last one announced`,
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

/** Every commit logged, or, where its writer died or lost its Lease, recorded as an Event where Events were taken. */
function checkTold(
  member: Incarnation,
  told: Told,
  excused: (seenAt: number) => boolean,
  options: OperatorCheckOptions,
  found: Found,
): void {
  const lines = tally(told.lines, transition, (s) => s.times);
  const events = tally(told.events, transition, (s) => s.times);
  const refusedFrom = options.eventsRefusedFrom.get(member.namespace) ?? Number.POSITIVE_INFINITY;
  for (const commit of member.commits) {
    const key = transition(commit);
    const accepted = commit.seenAt < refusedFrom;
    const hasEvent = take(events, key);
    if (!hasEvent && accepted && !commit.optional) found.eventless += 1;
    if (take(lines, key) || commit.optional) continue;
    found.untold += 1;
    if (!excused(commit.seenAt)) {
      found.problems.push(`${key} committed at ${commit.revision} but never logged (no process died or stopped leading then)`);
    } else if (!hasEvent && accepted) {
      found.problems.push(`${key} committed at ${commit.revision}, its line lost with its process or Lease, and no Event either`);
    } else {
      found.excused += 1;
    }
  }
}

/** Uses one of `key` from the counts; false when none was left. */
function take(counts: Map<string, number>, key: string): boolean {
  const left = counts.get(key) ?? 0;
  if (left <= 0) return false;
  counts.set(key, left - 1);
  return true;
}

/** Deleted after the welcome: seen off (finalizer on); nothing Terminating; alive when the churn settled: as wanted. */
function checkEnd(member: Incarnation, options: OperatorCheckOptions, found: Found): void {
  checkDeletion(member, options.finalizer, found);
  const settled = member.changes.filter((c) => c.revision <= options.settledAt).at(-1);
  if (settled === undefined || settled.kind === 'delete' || settled.stored.deleting) return;
  const problem = settledProblem(settled, options.finalizer);
  if (problem !== undefined) found.problems.push(`when the churn settled at ${options.settledAt}: ${problem}`);
}

function checkDeletion(member: Incarnation, finalizer: boolean, found: Found): void {
  const last = member.changes.at(-1);
  if (last?.kind === 'put' && last.stored.deleting) {
    found.problems.push(`left Terminating (finalizers ${last.stored.finalizers.join(', ') || 'none'})`);
  }
  const welcomed = member.commits.some((c) => c.kind === 'Welcomed');
  const deleted = member.changes.some((c) => c.stored.deleting || c.kind === 'delete');
  if (finalizer && welcomed && deleted && !member.commits.some((c) => c.kind === 'Farewell')) {
    found.problems.push('deleted after its welcome without a goodbye');
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

function addFigures(figures: OperatorFigures, member: Incarnation, told: Told, found: Found): void {
  const owed = member.commits.filter((c) => !c.optional);
  figures.welcomes += owed.filter((c) => c.kind === 'Welcomed').length;
  figures.moves += owed.filter((c) => c.kind === 'Moved').length;
  figures.goodbyes += owed.filter((c) => c.kind === 'Farewell').length;
  figures.logged += told.lines.length;
  figures.recorded += told.events.reduce((n, e) => n + e.times, 0);
  figures.untold += found.untold;
  figures.excused += found.excused;
  figures.eventless += found.eventless;
  figures.repeated += found.repeated;
}

/** `ns/name (uid 1a2b3c4d, truth: blue@12 red@15 deleting@20 deleted@22; committed: Welcomed blue@13 ...)` */
function describe(member: Incarnation): string {
  const story = member.changes.map((c) => {
    if (c.kind === 'delete') return `deleted@${c.revision}`;
    return `${c.stored.deleting ? 'deleting:' : ''}${c.team ?? '(none)'}@${c.revision}`;
  });
  const commits = member.commits.map((c) => `${transition(c)}@${c.revision}`);
  return `${member.namespace}/${member.name} (uid ${member.uid.slice(0, 8)}, truth: ${dedupe(story).join(' ')}; committed: ${commits.join(', ') || 'nothing'})`;
}

/** Consecutive repeats once (labels and status writes make versions that look alike in the story). */
function dedupe(words: readonly string[]): string[] {
  return words.filter((w, i) => i === 0 || w.replace(/@\d+$/, '') !== (words[i - 1] ?? '').replace(/@\d+$/, ''));
}
