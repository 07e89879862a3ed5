import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredChange, StoredState } from '../harness/etcd-history.js';
import {
  checkOperator,
  FINALIZER,
  type KubeEvent,
  type LogLine,
  type OperatorCheckOptions,
  type ProcessLog,
} from '../harness/operator-checker.js';

const NS = 'crew';
/** The history's clock: revision R was seen at T0 + R seconds. */
const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const at = (revision: number): number => T0 + revision * 1000;
const iso = (revision: number): string => new Date(at(revision)).toISOString();

const FRESH: StoredState = {
  generation: 1,
  deleting: false,
  finalizers: [],
  announcedTeam: null,
  announcedAt: null,
  observedGeneration: null,
};

/** A hand-made history of what etcd stored, one revision per change, and what the operator did to it. */
class Story {
  readonly changes: StoredChange[] = [];
  private revision = 100;
  private readonly now = new Map<string, { name: string; team: string | null; stored: StoredState }>();

  get last(): number {
    return this.revision;
  }

  create(name: string, uid: string, team: string | null): this {
    return this.put(uid, { name, team, stored: FRESH });
  }

  /** The operator adds its finalizer. */
  hold(uid: string): this {
    return this.write(uid, (s) => ({ ...s, finalizers: [FINALIZER] }));
  }

  /** The operator's status write of a welcome or a move: the team of the spec, announced. */
  announce(uid: string): this {
    return this.write(uid, (s, team) => ({
      ...s,
      announcedTeam: team,
      announcedAt: iso(this.revision + 1),
      observedGeneration: s.generation,
    }));
  }

  /** A status write by hand (or a buggy operator): any team. */
  status(uid: string, announcedTeam: string | null): this {
    return this.write(uid, (s) => ({ ...s, announcedTeam, announcedAt: iso(this.revision + 1), observedGeneration: s.generation }));
  }

  /** Each team in turn, each announced by the operator's status write. */
  moves(uid: string, ...teams: string[]): this {
    for (const team of teams) this.team(uid, team).announce(uid);
    return this;
  }

  team(uid: string, team: string | null): this {
    const was = this.get(uid);
    return this.put(uid, { ...was, team, stored: { ...was.stored, generation: was.stored.generation + 1 } });
  }

  /** A delete request: with finalizers the member is only marked, without it is gone. */
  remove(uid: string): this {
    const was = this.get(uid);
    if (was.stored.finalizers.length === 0) return this.gone(uid);
    return this.write(uid, (s) => ({ ...s, deleting: true }));
  }

  /** A delete that read the member before its finalizer was added removes it at once (kubernetes#77988). */
  removePast(uid: string): this {
    return this.gone(uid);
  }

  /** The operator removes its finalizer (a goodbye, or a release): a member being deleted is then gone. */
  release(uid: string): this {
    const was = this.get(uid);
    if (was.stored.deleting) return this.gone(uid);
    return this.write(uid, (s) => ({ ...s, finalizers: [] }));
  }

  private gone(uid: string): this {
    const was = this.get(uid);
    this.revision += 1;
    this.changes.push({
      revision: this.revision,
      kind: 'delete',
      namespace: NS,
      name: was.name,
      uid,
      team: was.team,
      stored: was.stored,
      seenAt: at(this.revision),
    });
    this.now.delete(uid);
    return this;
  }

  private write(uid: string, change: (stored: StoredState, team: string | null) => StoredState): this {
    const was = this.get(uid);
    return this.put(uid, { ...was, stored: change(was.stored, was.team) });
  }

  private put(uid: string, state: { name: string; team: string | null; stored: StoredState }): this {
    this.revision += 1;
    this.now.set(uid, state);
    const { name, team, stored } = state;
    this.changes.push({ revision: this.revision, kind: 'put', namespace: NS, name, uid, team, stored, seenAt: at(this.revision) });
    return this;
  }

  private get(uid: string): { name: string; team: string | null; stored: StoredState } {
    const state = this.now.get(uid);
    if (state === undefined) throw new Error(`no member ${uid}`);
    return state;
  }
}

function said(
  event: string,
  name: string,
  uid: string,
  team: string | null,
  opts: { previousTeam?: string | null; revision?: number } = {},
): LogLine {
  return { time: iso(opts.revision ?? 0), level: 'info', event, namespace: NS, name, uid, team, previousTeam: opts.previousTeam ?? null };
}

/** The lines of a welcome to the first team and a move to each next one. */
function chain(name: string, uid: string, teams: readonly string[]): LogLine[] {
  return teams.map((team, i) =>
    i === 0 ? said('Welcomed', name, uid, team) : said('Moved', name, uid, team, { previousTeam: teams[i - 1] ?? null }),
  );
}

function notice(event: string, revision: number): LogLine {
  return { time: iso(revision), level: 'info', event, namespace: null, name: null, uid: null, team: null, previousTeam: null };
}

function kubeEvent(reason: string, name: string, uid: string, message: string, count = 1): KubeEvent {
  return { metadata: { name: `${name}.${reason}.${count}` }, involvedObject: { uid, name, namespace: NS }, reason, message, count };
}

function options(story: Story, over: Partial<OperatorCheckOptions> = {}): OperatorCheckOptions {
  return {
    namespaces: new Set([NS]),
    finalizer: true,
    settledAt: story.last,
    eventsRefusedFrom: new Map(),
    answerWindowMs: 5_000,
    ...over,
  };
}

/**
 * patrick: created blue, held, welcomed, moved to red, deleted, seen off. ann: created without a team, held,
 * welcomed, still there.
 */
function goodStory(): Story {
  return new Story()
    .create('patrick', 'u-pat', 'blue')
    .hold('u-pat')
    .announce('u-pat')
    .team('u-pat', 'red')
    .announce('u-pat')
    .create('ann', 'u-ann', null)
    .hold('u-ann')
    .announce('u-ann')
    .remove('u-pat')
    .release('u-pat');
}

const goodLines = (): LogLine[] => [
  notice('Leading', 100),
  said('Welcomed', 'patrick', 'u-pat', 'blue'),
  said('Moved', 'patrick', 'u-pat', 'red', { previousTeam: 'blue' }),
  said('Welcomed', 'ann', 'u-ann', null),
  said('Farewell', 'patrick', 'u-pat', 'red'),
];

const goodEvents = (): KubeEvent[] => [
  kubeEvent('Welcomed', 'patrick', 'u-pat', 'welcome patrick to the team blue'),
  kubeEvent('Moved', 'patrick', 'u-pat', 'patrick moved from team blue to team red'),
  kubeEvent('Welcomed', 'ann', 'u-ann', 'welcome ann'),
  kubeEvent('Farewell', 'patrick', 'u-pat', 'sad to see you go patrick'),
];

const one = (lines: LogLine[], killedAt?: number): ProcessLog[] => [{ label: 'replica 0', lines, killedAt }];

test('a faithful operator passes, with its figures', () => {
  const story = goodStory();
  const verdict = checkOperator(story.changes, one(goodLines()), goodEvents(), options(story));
  assert.deepEqual(verdict.problems, []);
  assert.deepEqual(verdict.figures, {
    members: 2,
    welcomes: 2,
    moves: 1,
    goodbyes: 1,
    logged: 4,
    recorded: 4,
    untold: 0,
    excused: 0,
    eventless: 0,
    repeated: 0,
    leaderships: 1,
    relists: 0,
  });
});

test('a goodbye said twice by one process (finding 1) is caught, in the log and as an Event count', () => {
  const story = goodStory();
  const lines = [...goodLines(), said('Farewell', 'patrick', 'u-pat', 'red')];
  const events = goodEvents().map((e) => (e.reason === 'Farewell' ? { ...e, count: 2 } : e));
  const verdict = checkOperator(story.changes, one(lines), events, options(story));
  assert.equal(verdict.figures.repeated, 2);
  assert.match(verdict.problems.join('\n'), /patrick .*: Farewell logged 2 times \(replica 0, replica 0\)/);
  assert.match(
    verdict.problems.join('\n'),
    /patrick .*: Farewell recorded as Events 2 times \(Event patrick.Farewell.1 \(no instance, x2\)\)/,
  );
});

test('without the finalizer, a goodbye from two replicas (finding 2) is caught; one from either is fine', () => {
  const story = new Story().create('bo', 'u-bo', 'blue').announce('u-bo').remove('u-bo');
  const welcome = said('Welcomed', 'bo', 'u-bo', 'blue');
  const bye = said('Farewell', 'bo', 'u-bo', 'blue');
  const noFinalizer = options(story, { finalizer: false, settledAt: 100 });
  const twice: ProcessLog[] = [
    { label: 'replica 0', lines: [welcome, bye] },
    { label: 'replica 1', lines: [bye] },
  ];
  const verdict = checkOperator(story.changes, twice, [], noFinalizer);
  assert.match(verdict.problems.join('\n'), /bo .*: Farewell logged 2 times \(replica 0, replica 1\)/);
  const once: ProcessLog[] = [
    { label: 'replica 0', lines: [welcome] },
    { label: 'replica 1', lines: [bye] },
  ];
  assert.deepEqual(checkOperator(story.changes, once, [], noFinalizer).problems, []);
  // Without the finalizer no goodbye is owed.
  assert.deepEqual(checkOperator(story.changes, one([welcome]), [], noFinalizer).problems, []);
});

test('a committed welcome untold after its leader lost the Lease (finding 3) needs its Event', () => {
  const story = new Story().create('cy', 'u-cy', 'blue').hold('u-cy').announce('u-cy');
  const commit = story.last;
  const leaders: ProcessLog[] = [
    { label: 'replica 0', lines: [notice('Leading', 100), notice('StoppedLeading', commit + 2)] },
    { label: 'replica 1', lines: [notice('Leading', commit + 4)] },
  ];
  const untold = checkOperator(story.changes, leaders, [], options(story));
  assert.equal(untold.figures.untold, 1);
  assert.match(
    untold.problems.join('\n'),
    /cy .*: Welcomed blue recorded at 2026-11-25T10:01:43.000Z, its line lost with its process or Lease, and no Event either/,
  );
  const recorded = checkOperator(
    story.changes,
    leaders,
    [kubeEvent('Welcomed', 'cy', 'u-cy', 'welcome cy to the team blue')],
    options(story),
  );
  assert.deepEqual(recorded.problems, []);
  assert.equal(recorded.figures.excused, 1);
  // A process killed around the commit excuses the line as well; so does a namespace refusing Events the Event.
  assert.deepEqual(
    checkOperator(
      story.changes,
      one([], at(commit) + 1_000),
      [kubeEvent('Welcomed', 'cy', 'u-cy', 'welcome cy to the team blue')],
      options(story),
    ).problems,
    [],
  );
  const refusing = options(story, { eventsRefusedFrom: new Map([[NS, at(commit) - 1]]) });
  assert.deepEqual(checkOperator(story.changes, leaders, [], refusing).problems, []);
});

test('a commit never logged, with no process dying or stepping down then, is caught even with its Event', () => {
  const story = goodStory();
  const lines = goodLines().filter((l) => l.event !== 'Moved');
  const stepDownLongBefore = [...lines, notice('StoppedLeading', 90)];
  const verdict = checkOperator(story.changes, one(stepDownLongBefore), goodEvents(), options(story));
  assert.match(
    verdict.problems.join('\n'),
    /patrick .*: Moved blue -> red recorded at 2026-11-25T10:01:45.000Z but never logged \(no process died or stopped leading then\)/,
  );
  assert.equal(verdict.figures.untold, 1);
});

test('a move that does not continue the last announced team, or one move told twice, is caught', () => {
  const story = goodStory();
  const lines = goodLines().map((l) => (l.event === 'Moved' ? { ...l, previousTeam: 'green' } : l));
  const verdict = checkOperator(story.changes, one(lines), goodEvents(), options(story));
  assert.match(verdict.problems.join('\n'), /patrick .*: Moved green -> red logged 1 times, recorded 0/);
  const twice = [...goodLines(), said('Moved', 'patrick', 'u-pat', 'red', { previousTeam: 'blue' })];
  assert.match(
    checkOperator(story.changes, one(twice), goodEvents(), options(story)).problems.join('\n'),
    /Moved blue -> red logged 2 times, recorded 1/,
  );
  const events = [...goodEvents(), kubeEvent('Moved', 'patrick', 'u-pat', 'patrick moved from team blue to team red')];
  assert.match(
    checkOperator(story.changes, one(goodLines()), events, options(story)).problems.join('\n'),
    /the moves recorded \(status and Events\) are no chain through its teams from its welcome \(Welcomed blue\): Moved blue -> red x2/,
  );
});

test('the same move twice in the truth may be told twice: blue, red, blue, red', () => {
  const story = new Story().create('di', 'u-di', 'blue').hold('u-di').announce('u-di').moves('u-di', 'red', 'blue', 'red');
  const lines = chain('di', 'u-di', ['blue', 'red', 'blue', 'red']);
  const events = [
    kubeEvent('Welcomed', 'di', 'u-di', 'welcome di to the team blue'),
    kubeEvent('Moved', 'di', 'u-di', 'di moved from team blue to team red', 2),
    kubeEvent('Moved', 'di', 'u-di', 'di moved from team red to team blue'),
  ];
  assert.deepEqual(checkOperator(story.changes, one(lines), events, options(story)).problems, []);
});

test('a status that announces a team the member never had, or had before the last one announced, is caught', () => {
  const story = new Story().create('ed', 'u-ed', 'blue').hold('u-ed').status('u-ed', 'gold');
  const verdict = checkOperator(story.changes, one([said('Welcomed', 'ed', 'u-ed', 'gold')]), [], options(story));
  assert.match(verdict.problems.join('\n'), /ed .*: Welcomed gold committed to the status at 103, a team it did not have then/);
  assert.match(verdict.problems.join('\n'), /status announces team gold, spec says blue/);
  const back = new Story().create('fa', 'u-fa', 'blue').hold('u-fa').team('u-fa', 'red').announce('u-fa').status('u-fa', 'blue');
  assert.match(
    checkOperator(back.changes, one([]), [], options(back)).problems.join('\n'),
    /Moved red -> blue committed to the status at 105, a team it did not have then, or not after/,
  );
});

test('alive at the end but not welcomed, or with a status behind its spec, is caught', () => {
  const story = new Story()
    .create('gi', 'u-gi', 'blue')
    .hold('u-gi')
    .create('ha', 'u-ha', 'blue')
    .hold('u-ha')
    .announce('u-ha')
    .team('u-ha', 'red');
  const verdict = checkOperator(story.changes, one([said('Welcomed', 'ha', 'u-ha', 'blue')]), [], options(story));
  assert.match(verdict.problems.join('\n'), /gi .*: when the churn settled at 106: alive but never welcomed/);
  assert.match(verdict.problems.join('\n'), /ha .*: when the churn settled at 106: status announces team blue, spec says red/);
  // Checked as they stood when the churn settled, not later.
  assert.doesNotMatch(
    checkOperator(story.changes, one([said('Welcomed', 'ha', 'u-ha', 'blue')]), [], options(story, { settledAt: 100 })).problems.join('\n'),
    /settled/,
  );
});

test('deleted after its welcome without a goodbye, or left Terminating, is caught (finalizer on)', () => {
  // The finalizer went before the welcome was ... removed by someone else: no goodbye was committed.
  const story = new Story().create('io', 'u-io', 'blue').hold('u-io').announce('u-io').release('u-io').remove('u-io');
  const verdict = checkOperator(story.changes, one([said('Welcomed', 'io', 'u-io', 'blue')]), [], options(story, { settledAt: 100 }));
  assert.match(verdict.problems.join('\n'), /io .*: deleted after its welcome without a goodbye/);
  const stuck = new Story().create('jo', 'u-jo', 'blue').hold('u-jo').announce('u-jo').remove('u-jo');
  const found = checkOperator(stuck.changes, one([said('Welcomed', 'jo', 'u-jo', 'blue')]), [], options(stuck, { settledAt: 100 }));
  assert.match(found.problems.join('\n'), /jo .*: left Terminating \(finalizers helloworld.apimeister.com\/farewell\)/);
  assert.match(found.problems.join('\n'), /jo .*: deleted after its welcome without a goodbye/);
});

test('a welcomed member deleted past the finalizer is owed a goodbye, unless a process died, stopped leading or relisted then', () => {
  const story = new Story().create('io', 'u-io', 'blue').hold('u-io').announce('u-io').removePast('u-io');
  const welcome = said('Welcomed', 'io', 'u-io', 'blue', { revision: 103 });
  const events = [kubeEvent('Welcomed', 'io', 'u-io', 'welcome io to the team blue')];
  const check = (lines: LogLine[], more: KubeEvent[] = [], over: Partial<OperatorCheckOptions> = {}): string[] =>
    checkOperator(story.changes, one(lines), [...events, ...more], options(story, { settledAt: 100, ...over })).problems;
  assert.match(check([welcome]).join('\n'), /io .*: deleted past the finalizer after its welcome without a goodbye/);
  for (const event of ['StoppedLeading', 'Relisting']) assert.deepEqual(check([welcome, notice(event, 106)]), [], event);
  const bye = said('Farewell', 'io', 'u-io', 'blue', { revision: 104 });
  assert.deepEqual(check([welcome, bye], [kubeEvent('Farewell', 'io', 'u-io', 'sad to see you go io')]), []);
  // Its Event refused (the namespace being deleted): the line alone; the Event alone needs its line.
  assert.deepEqual(check([welcome, bye], [], { eventsRefusedFrom: new Map([[NS, at(104)]]) }), []);
  assert.match(
    check([welcome], [kubeEvent('Farewell', 'io', 'u-io', 'sad to see you go io')]).join('\n'),
    /io .*: Farewell recorded at .* but never logged/,
  );
  // The ordinary deletion (marked, then released) still needs its goodbye in the record.
  const marked = new Story().create('jo', 'u-jo', 'blue').hold('u-jo').announce('u-jo').remove('u-jo').release('u-jo');
  assert.deepEqual(
    checkOperator(
      marked.changes,
      one([said('Welcomed', 'jo', 'u-jo', 'blue'), said('Farewell', 'jo', 'u-jo', 'blue')]),
      [],
      options(marked, { settledAt: 100 }),
    ).problems,
    [],
  );
});

test('a re-created name is two members: one welcome each; the old uid welcomed again is caught', () => {
  const story = new Story()
    .create('kai', 'u-kai1', 'blue')
    .hold('u-kai1')
    .announce('u-kai1')
    .remove('u-kai1')
    .release('u-kai1')
    .create('kai', 'u-kai2', 'red')
    .hold('u-kai2')
    .announce('u-kai2');
  const lines = [
    said('Welcomed', 'kai', 'u-kai1', 'blue'),
    said('Farewell', 'kai', 'u-kai1', 'blue'),
    said('Welcomed', 'kai', 'u-kai2', 'red'),
  ];
  assert.deepEqual(checkOperator(story.changes, one(lines), [], options(story)).problems, []);
  const confused = [...lines.slice(0, 2), said('Welcomed', 'kai', 'u-kai1', 'red')];
  const verdict = checkOperator(story.changes, one(confused), [], options(story));
  assert.match(verdict.problems.join('\n'), /kai \(uid u-kai1, .*: Welcomed red logged 1 times, recorded 0/);
  assert.match(verdict.problems.join('\n'), /kai \(uid u-kai2, .*: Welcomed red recorded at 2026-11-25T10:01:48.000Z but never logged/);
});

test("a member that never was, and an Event not in the seed's words, are caught", () => {
  const story = goodStory();
  const ghost = [...goodLines(), said('Welcomed', 'ghost', 'u-ghost', 'blue')];
  const events = [...goodEvents(), kubeEvent('Moved', 'ann', 'u-ann', 'ann went somewhere')];
  const verdict = checkOperator(story.changes, one(ghost), events, options(story));
  assert.match(verdict.problems.join('\n'), /replica 0 announced a member that never was: .*"name":"ghost"/);
  assert.match(verdict.problems.join('\n'), /ann .*: an Event whose message is not the seed's words: Moved Event "ann went somewhere"/);
});

test('Events counted by series as well as count, whatever their names', () => {
  const story = goodStory();
  const events = goodEvents().map((e) =>
    e.reason === 'Welcomed' ? { ...e, count: 0, series: { count: 2 }, metadata: { name: 'anything' } } : e,
  );
  const verdict = checkOperator(story.changes, one(goodLines()), events, options(story));
  assert.match(verdict.problems.join('\n'), /patrick .*: Welcomed recorded as Events 2 times \(blue by Event anything/);
  assert.match(verdict.problems.join('\n'), /ann .*: Welcomed recorded as Events 2 times \(\(none\) by Event anything/);
});

test('an announcement only its Event records (the status write never came) is made once, and must be logged', () => {
  // lu is welcomed by its Event; the writer stops before the status; lu is deleted and seen off.
  const story = new Story().create('lu', 'u-lu', 'blue').hold('u-lu').remove('u-lu').release('u-lu');
  const events = [
    { ...kubeEvent('Welcomed', 'lu', 'u-lu', 'welcome lu to the team blue'), firstTimestamp: iso(102) },
    kubeEvent('Farewell', 'lu', 'u-lu', 'sad to see you go lu'),
  ];
  const lines = [said('Welcomed', 'lu', 'u-lu', 'blue'), said('Farewell', 'lu', 'u-lu', 'blue')];
  const settled = options(story, { settledAt: 100 });
  const verdict = checkOperator(story.changes, one(lines), events, settled);
  assert.deepEqual(verdict.problems, []);
  assert.equal(verdict.figures.welcomes, 1);
  assert.equal(verdict.figures.goodbyes, 1);
  assert.match(
    checkOperator(story.changes, one(lines.slice(1)), events, settled).problems.join('\n'),
    /lu .*: Welcomed blue recorded at 2026-11-25T10:01:42.000Z but never logged/,
  );
  // Its writer killed just after it: the Event tells it.
  assert.deepEqual(checkOperator(story.changes, one(lines.slice(1), at(102) + 500), events, settled).problems, []);
  // Its finalizer released without a word, since the status never said it was welcomed: no goodbye.
  assert.match(
    checkOperator(story.changes, one(lines.slice(0, 1)), events.slice(0, 1), settled).problems.join('\n'),
    /lu .*: deleted after its welcome without a goodbye/,
  );
});

test('without the finalizer, a member welcomed by its Event alone may be seen off by a line alone (its Event refused)', () => {
  // mo is gone before the status write of its welcome; the deletion's goodbye is told, its Event refused.
  const story = new Story().create('mo', 'u-mo', 'red').remove('u-mo');
  const welcomeEvent = [{ ...kubeEvent('Welcomed', 'mo', 'u-mo', 'welcome mo to the team red'), firstTimestamp: iso(103) }];
  const lines = [said('Welcomed', 'mo', 'u-mo', 'red'), said('Farewell', 'mo', 'u-mo', 'red')];
  const noFinalizer = options(story, { finalizer: false, settledAt: 100 });
  assert.deepEqual(checkOperator(story.changes, one(lines), welcomeEvent, noFinalizer).problems, []);
  // Never welcomed, by status or Event: a goodbye is a line the record does not hold.
  assert.match(
    checkOperator(story.changes, one(lines.slice(1)), [], noFinalizer).problems.join('\n'),
    /mo .*: Farewell logged 1 times, recorded 0/,
  );
});

test('moves the Events hold beyond the status are fine when they continue it; a move that does not is caught', () => {
  const story = new Story().create('mo', 'u-mo', 'blue').announce('u-mo').moves('u-mo', 'red').team('u-mo', 'green').remove('u-mo');
  const lines = chain('mo', 'u-mo', ['blue', 'red', 'green']);
  const events = [
    kubeEvent('Welcomed', 'mo', 'u-mo', 'welcome mo to the team blue'),
    kubeEvent('Moved', 'mo', 'u-mo', 'mo moved from team blue to team red'),
    kubeEvent('Moved', 'mo', 'u-mo', 'mo moved from team red to team green'),
  ];
  const noFinalizer = options(story, { finalizer: false, settledAt: 100 });
  assert.deepEqual(checkOperator(story.changes, one(lines), events, noFinalizer).problems, []);
  // The Events say blue to green where the status says blue to red: two moves from blue, no chain.
  const astray = [...events.slice(0, 2), kubeEvent('Moved', 'mo', 'u-mo', 'mo moved from team blue to team green')];
  assert.match(
    checkOperator(story.changes, one(lines), astray, noFinalizer).problems.join('\n'),
    /mo .*: the moves recorded \(status and Events\) are no chain through its teams from its welcome \(Welcomed blue\): Moved blue -> red x1, Moved blue -> green x1/,
  );
  // A welcome recorded with two teams is two welcomes.
  const twoWelcomes = [kubeEvent('Welcomed', 'mo', 'u-mo', 'welcome mo to the team red'), ...events.slice(1)];
  assert.match(
    checkOperator(story.changes, one(lines), twoWelcomes, noFinalizer).problems.join('\n'),
    /mo .*: the record holds Welcomed blue and Welcomed red: two Welcomed/,
  );
});
