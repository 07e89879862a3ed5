/**
 * Checks what `member-watch watch -o json` printed against what really happened, member by member (by uid).
 *
 * The truth is every change etcd stored, with its revision (= the API's resourceVersion). The watcher's own
 * request log (`--debug`: every list and every watch with the resourceVersion it resumes from) says where it
 * had gaps: a list after a watch is a relist, and the next watch's resourceVersion is the revision of the list.
 * A streamed list (a watch with sendInitialEvents) is a list at the resourceVersion of the bookmark that ended
 * its initial events, which the watcher notes in the same log, and a watch from there.
 * From both the checker computes what the list/watch protocol lets a correct watcher print, and nothing else:
 *
 * - between relists, every welcome, move and goodbye, in order, each with the resourceVersion of its change;
 * - a relist at revision B after the watch had seen up to A: one event per member for everything in (A, B]:
 *   a goodbye for a member gone by B, a welcome (state at B) for one new by B, one move from the team announced
 *   to the team at B; members born and gone inside (A, B] are never seen, several moves collapse into one, and a
 *   name deleted and recreated shows as the goodbye of one uid and the welcome of the other;
 * - the first list greets (`initial`) the state at its revision, or nothing with `--watch-only`.
 *
 * A is known from below only (the watcher may have read further on the old connection before it broke), so it
 * is the resourceVersion the last watch resumed from, raised to the last live event printed before the relist.
 */

export interface TruthChange {
  /** etcd's mod_revision: the resourceVersion of the change. */
  revision: number;
  kind: 'put' | 'delete';
  namespace: string;
  name: string;
  uid: string;
  /** The team after a put (null: none); for a delete, the team it had. */
  team: string | null;
}

export type EventSource = 'initial' | 'watch' | 'relist';

export interface PrintedEvent {
  schemaVersion: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  namespace: string;
  name: string;
  uid: string;
  team: string | null;
  previousTeam: string | null;
  resourceVersion: string;
  time: string;
  source: EventSource;
}

/** One request of the watcher, in the order it made them. */
export interface WatchRequest {
  /** stream: a streamed list, a watch whose initial events are the list. */
  kind: 'list' | 'watch' | 'stream';
  /**
   * For a watch: the resourceVersion it starts from. For a stream: where its initial events ended (the list's
   * revision, and where the watch goes on from), undefined if they never did.
   */
  resourceVersion: number | undefined;
  /** The HTTP status it was answered with; undefined when it failed without one (refused, reset). */
  status: number | undefined;
}

export interface CheckOptions {
  namespace: string;
  watchOnly: boolean;
}

export interface Figures {
  /** True events: greetings owed at the start, then every creation, team change and deletion. */
  produced: number;
  /** What the protocol lets a watcher see of them, given where this one had to relist. */
  expected: number;
  seen: number;
  missing: number;
  duplicated: number;
  /** Printed, but not as the truth says: wrong team, previousTeam, source or resourceVersion, out of order, invented. */
  wrong: number;
  /** Printed with source `relist`. */
  relisted: number;
  /** Relists the watcher made (lists after its first watch). */
  relists: number;
  /** Watch requests that resumed from a resourceVersion without a list before them (failed attempts included). */
  resumes: number;
}

export interface Verdict {
  figures: Figures;
  /** One line per problem, naming the member, what was printed and what the truth was; empty when all is well. */
  problems: string[];
}

const TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED']);
const SOURCES = new Set(['initial', 'watch', 'relist']);

/** The NDJSON lines of a watcher's stdout (other lines are left out). */
export function parseEvents(lines: readonly string[]): PrintedEvent[] {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as PrintedEvent);
}

/** The member list and watch requests in a watcher's `--debug` log, in order. */
export function parseRequests(stderr: string): WatchRequest[] {
  const requests: WatchRequest[] = [];
  for (const match of stderr.matchAll(/^debug: (?:GET (\S+) (\d{3} )?|the initial events end at resourceVersion (\d+))/gm)) {
    const stream = requests.at(-1);
    if (match[3] !== undefined && stream?.kind === 'stream') stream.resourceVersion = Number(match[3]);
    const request = match[1] === undefined ? undefined : memberRequest(new URL(match[1]), match[2]);
    if (request) requests.push(request);
  }
  return requests;
}

function memberRequest(url: URL, status: string | undefined): WatchRequest | undefined {
  if (!url.pathname.endsWith('/members')) return undefined;
  const watch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
  const streamed = watch && url.searchParams.get('sendInitialEvents') === 'true';
  const rv = url.searchParams.get('resourceVersion');
  return {
    kind: streamed ? 'stream' : watch ? 'watch' : 'list',
    resourceVersion: rv === null || streamed ? undefined : Number(rv),
    status: status === undefined ? undefined : Number(status),
  };
}

/**
 * The log as lists and watches: a streamed list is a list and a watch from where its initial events ended, one the
 * server refused is neither, one whose initial events never ended is a list that did not finish.
 */
function listsAndWatches(requests: readonly WatchRequest[]): WatchRequest[] {
  return requests.flatMap((req): WatchRequest[] => {
    if (req.kind !== 'stream') return [req];
    if (req.status !== 200) return [];
    const list: WatchRequest = { kind: 'list', resourceVersion: undefined, status: 200 };
    return req.resourceVersion === undefined ? [list] : [list, { kind: 'watch', resourceVersion: req.resourceVersion, status: 200 }];
  });
}

// --- where the watcher had gaps ---

/** A relist (or the first list): the watcher knew everything up to `from`, then the state at `to`. */
interface Gap {
  from: number;
  to: number;
  first: boolean;
}

function findGaps(requests: readonly WatchRequest[], events: readonly PrintedEvent[], problems: string[]): Gap[] {
  const gaps = gapsInLog(requests, problems);
  if (gaps.length === 0) problems.push('no list followed by a watch in the debug log: was the watcher run with --debug?');
  // The old connection may have delivered more before it broke: what it printed live shows how far it got.
  for (const gap of gaps.slice(1)) {
    for (const e of events) {
      const rv = Number(e.resourceVersion);
      if (e.source === 'watch' && rv > gap.from && rv <= gap.to) gap.from = rv;
    }
  }
  return gaps;
}

/** Lists followed by a watch: the watch starts at the list's revision, which ends the gap. */
function gapsInLog(requests: readonly WatchRequest[], problems: string[]): Gap[] {
  const gaps: Gap[] = [];
  let lists = 0;
  let lastWatch = 0;
  for (const req of requests) {
    const rv = req.resourceVersion;
    if (req.kind === 'list') {
      lists += 1;
    } else if (rv === undefined || !Number.isFinite(rv)) {
      problems.push('a watch request without a resourceVersion');
    } else {
      if (lists === 0 && rv < lastWatch)
        problems.push(`a watch resumed from resourceVersion ${rv}, behind the ${lastWatch} it resumed from before`);
      if (lists > 1 && gaps.length === 0) problems.push(`the first list was made ${lists} times: a list cut half-way is not modelled here`);
      if (lists > 0) gaps.push({ from: lastWatch, to: rv, first: gaps.length === 0 });
      lists = 0;
      lastWatch = rv;
    }
  }
  if (lists > 0) problems.push('the watcher ended while listing: its output cannot be complete');
  return gaps;
}

// --- what a correct watcher prints, per uid ---

interface Expected {
  type: PrintedEvent['type'];
  team: string | null;
  previousTeam: string | null;
  source: EventSource;
  /** The resourceVersions it may carry: one, except for a goodbye made up by a relist (the last one it had). */
  revisions: number[];
  matched: boolean;
}

interface Version {
  revision: number;
  team: string | null;
}

/** Replays one uid's changes through the gaps: the events a correct watcher prints for it, in order. */
class Reference {
  readonly expected: Expected[] = [];
  /** What the watcher knows of the member (undefined: not announced, or gone). */
  private known: Version | undefined;
  /** The truth as far as it has been replayed. */
  private truth: Version | undefined;
  private versionsSinceKnown: number[] = [];
  private next = 0;

  constructor(
    private readonly changes: readonly TruthChange[],
    private readonly watchOnly: boolean,
  ) {}

  /** Every change up to `revision`, seen live. */
  live(revision: number): void {
    for (; this.next < this.changes.length && (this.changes[this.next] as TruthChange).revision <= revision; this.next++) {
      const change = this.changes[this.next] as TruthChange;
      this.advanceTruth(change);
      this.liveEvent(change);
      this.known = this.truth;
      this.versionsSinceKnown = this.truth ? [this.truth.revision] : [];
    }
  }

  /** The changes up to `gap.to` unseen, then the list: one step from what was announced to the state at `gap.to`. */
  relist(gap: Gap): void {
    for (; this.next < this.changes.length && (this.changes[this.next] as TruthChange).revision <= gap.to; this.next++) {
      this.advanceTruth(this.changes[this.next] as TruthChange);
    }
    const after = this.truth;
    this.reconcile(gap, after);
    this.known = after;
    this.versionsSinceKnown = after ? [after.revision] : [];
  }

  /**
   * What a relist makes of the difference between what was announced and what is listed. A goodbye from a relist
   * may carry the last resourceVersion the watcher had of the member, or the list's: the deletion's own is not in
   * a list.
   */
  private reconcile(gap: Gap, after: Version | undefined): void {
    const before = this.known;
    const source: EventSource = gap.first ? 'initial' : 'relist';
    if (before === undefined) {
      if (after !== undefined && !(gap.first && this.watchOnly)) this.push('ADDED', after, null, source, [after.revision]);
    } else if (after === undefined) {
      this.push('DELETED', before, null, source, [...this.versionsSinceKnown, gap.to]);
    } else if (before.team !== after.team) {
      this.push('MODIFIED', after, before.team, source, [after.revision]);
    }
  }

  private advanceTruth(change: TruthChange): void {
    this.truth = change.kind === 'put' ? { revision: change.revision, team: change.team } : undefined;
    if (this.truth && this.known) this.versionsSinceKnown.push(change.revision);
  }

  private liveEvent(change: TruthChange): void {
    const known = this.known;
    if (change.kind === 'delete') {
      if (known) this.push('DELETED', known, null, 'watch', [change.revision]);
    } else if (known === undefined) {
      this.push('ADDED', { revision: change.revision, team: change.team }, null, 'watch', [change.revision]);
    } else if (known.team !== change.team) {
      this.push('MODIFIED', { revision: change.revision, team: change.team }, known.team, 'watch', [change.revision]);
    }
  }

  private push(type: Expected['type'], v: Version, previousTeam: string | null, source: EventSource, revisions: number[]): void {
    this.expected.push({ type, team: v.team, previousTeam, source, revisions: [...revisions], matched: false });
  }
}

function expectedFor(changes: readonly TruthChange[], gaps: readonly Gap[], watchOnly: boolean): Expected[] {
  const ref = new Reference(changes, watchOnly);
  for (const gap of gaps) {
    ref.live(gap.from);
    ref.relist(gap);
  }
  ref.live(Number.POSITIVE_INFINITY);
  return ref.expected;
}

// --- comparing ---

function describeEvent(e: PrintedEvent): string {
  const move = e.type === 'MODIFIED' ? ` from ${String(e.previousTeam)}` : '';
  return `${e.type}${move} team ${String(e.team)} rv ${e.resourceVersion} (${e.source})`;
}

function describeExpected(e: Expected): string {
  const move = e.type === 'MODIFIED' ? ` from ${String(e.previousTeam)}` : '';
  return `${e.type}${move} team ${String(e.team)} rv ${e.revisions.join('|')} (${e.source})`;
}

function truthLine(changes: readonly TruthChange[]): string {
  return changes.map((c) => `${c.kind === 'put' ? String(c.team) : 'deleted'}@${c.revision}`).join(' ');
}

interface Tally {
  missing: number;
  duplicated: number;
  wrong: number;
}

/** Which expected event a printed one is: the same change (type and resourceVersion), or else the next of its type. */
function matchOne(p: PrintedEvent, expected: readonly Expected[], last: number): { at: number; repeat: boolean } {
  const rv = Number(p.resourceVersion);
  const same = (e: Expected): boolean => e.type === p.type && e.revisions.includes(rv);
  const at = expected.findIndex((e) => !e.matched && same(e));
  if (at >= 0) return { at, repeat: false };
  if (expected.some((e) => e.matched && same(e))) return { at: -1, repeat: true };
  return { at: expected.findIndex((e, i) => !e.matched && i > last && e.type === p.type), repeat: false };
}

function faithful(p: PrintedEvent, e: Expected): boolean {
  return (
    e.revisions.includes(Number(p.resourceVersion)) &&
    e.team === p.team &&
    e.source === p.source &&
    (p.type !== 'MODIFIED' || e.previousTeam === p.previousTeam)
  );
}

/** The member a problem is about, with its whole true history. */
function whoIs(printed: readonly PrintedEvent[], truth: readonly TruthChange[]): string {
  const first = truth[0] ?? printed[0];
  const story = truth.length > 0 ? truthLine(truth) : 'never existed';
  return `${first?.name ?? '?'} (uid ${first?.uid.slice(0, 8) ?? '?'}, truth: ${story})`;
}

/** Matches one uid's printed events with the expected ones, in order. */
function compareMember(printed: readonly PrintedEvent[], expected: Expected[], truth: readonly TruthChange[], problems: string[]): Tally {
  const tally = { missing: 0, duplicated: 0, wrong: 0 };
  const who = whoIs(printed, truth);
  let last = -1;
  for (const p of printed) {
    const { at, repeat } = matchOne(p, expected, last);
    const e = expected[at];
    if (repeat) {
      tally.duplicated += 1;
      problems.push(`${who}: printed twice: ${describeEvent(p)}`);
      continue;
    }
    if (e === undefined) {
      tally.wrong += 1;
      problems.push(`${who}: printed ${describeEvent(p)}, which the truth does not explain`);
      continue;
    }
    e.matched = true;
    const right = faithful(p, e);
    if (!right) problems.push(`${who}: printed ${describeEvent(p)}, expected ${describeExpected(e)}`);
    if (at < last) problems.push(`${who}: printed ${describeEvent(p)} out of order`);
    if (!right || at < last) tally.wrong += 1;
    last = Math.max(last, at);
  }
  for (const e of expected.filter((x) => !x.matched)) {
    tally.missing += 1;
    problems.push(`${who}: missing ${describeExpected(e)}`);
  }
  return tally;
}

/** Live events come from one ordered stream: their resourceVersions only grow. */
function checkStreamOrder(events: readonly PrintedEvent[], problems: string[]): number {
  let last = 0;
  let wrong = 0;
  for (const e of events) {
    if (e.source !== 'watch') continue;
    const rv = Number(e.resourceVersion);
    if (rv <= last) {
      wrong += 1;
      problems.push(`${e.name}: live ${describeEvent(e)} after a live event at rv ${last}`);
    }
    last = Math.max(last, rv);
  }
  return wrong;
}

/** One name, several uids over time: each incarnation is seen off before the next is welcomed, never interleaved. */
function checkIncarnations(events: readonly PrintedEvent[], createdAt: ReadonlyMap<string, number>, problems: string[]): number {
  const lastByName = new Map<string, PrintedEvent>();
  let wrong = 0;
  for (const e of events) {
    const before = lastByName.get(e.name);
    lastByName.set(e.name, e);
    if (before === undefined || before.uid === e.uid) continue;
    const older = (createdAt.get(e.uid) ?? 0) < (createdAt.get(before.uid) ?? 0);
    if (older || before.type !== 'DELETED') {
      wrong += 1;
      problems.push(
        `${e.name}: ${describeEvent(e)} of uid ${e.uid.slice(0, 8)} after ${describeEvent(before)} of uid ${before.uid.slice(0, 8)}`,
      );
    }
  }
  return wrong;
}

function checkShape(events: readonly PrintedEvent[], namespace: string, problems: string[]): PrintedEvent[] {
  const good: PrintedEvent[] = [];
  for (const e of events) {
    const ok =
      e.schemaVersion === 1 &&
      e.namespace === namespace &&
      TYPES.has(e.type) &&
      SOURCES.has(e.source) &&
      typeof e.uid === 'string' &&
      /^\d+$/.test(String(e.resourceVersion)) &&
      (e.type === 'MODIFIED' || e.previousTeam === null);
    if (ok) good.push(e);
    else problems.push(`malformed or foreign event: ${JSON.stringify(e)}`);
  }
  return good;
}

function groupByUid<T extends { uid: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(item.uid);
    if (list) list.push(item);
    else groups.set(item.uid, [item]);
  }
  return groups;
}

/**
 * The verdict on one watcher: `truth` holds every change etcd stored for members (any namespace, in revision
 * order), from before the watcher started until after its last event; `events` and `requests` are its output
 * and its debug log.
 */
export function checkWatch(
  truth: readonly TruthChange[],
  events: readonly PrintedEvent[],
  requests: readonly WatchRequest[],
  options: CheckOptions,
): Verdict {
  const problems: string[] = [];
  const printed = checkShape(events, options.namespace, problems);
  const requested = listsAndWatches(requests);
  const gaps = findGaps(requested, printed, problems);
  const mine = truth.filter((c) => c.namespace === options.namespace);
  const truthByUid = groupByUid(mine);
  const printedByUid = groupByUid(printed);
  const createdAt = new Map([...truthByUid].map(([uid, changes]) => [uid, (changes[0] as TruthChange).revision]));
  const tally = { missing: 0, duplicated: 0, wrong: 0 };
  let expectedCount = 0;
  let produced = 0;
  for (const uid of new Set([...truthByUid.keys(), ...printedByUid.keys()])) {
    const changes = truthByUid.get(uid) ?? [];
    const expected = expectedFor(changes, gaps, options.watchOnly);
    expectedCount += expected.length;
    produced += expectedFor(changes, gaps.slice(0, 1), options.watchOnly).length;
    const t = compareMember(printedByUid.get(uid) ?? [], expected, changes, problems);
    tally.missing += t.missing;
    tally.duplicated += t.duplicated;
    tally.wrong += t.wrong;
  }
  // After the members' own stories, which say most about what went wrong.
  tally.wrong += checkStreamOrder(printed, problems) + checkIncarnations(printed, createdAt, problems);
  return {
    figures: {
      produced,
      expected: expectedCount,
      seen: printed.length,
      ...tally,
      relisted: printed.filter((e) => e.source === 'relist').length,
      relists: Math.max(0, gaps.length - 1),
      resumes: requested.filter((r, i) => r.kind === 'watch' && requested[i - 1]?.kind === 'watch').length,
    },
    problems,
  };
}
