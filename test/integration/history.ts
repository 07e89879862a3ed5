import assert from 'node:assert/strict';
import type { Prng } from '../harness/prng.js';
import { parseEvents, type PrintedEvent } from '../harness/watch-checker.js';
import type { TestEnv } from './support.js';

/** Retries a read while the API server is away (stopped, killed, starting): the server is the judge. */
export async function settle<T>(read: () => Promise<T>, attempts = 100): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt > attempts) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Makes changes to members and writes down what really happened in the cluster, so a watcher's output
 * can be compared with it. A request that fails while the API server is down may or may not have been
 * applied: the driver asks the server afterwards instead of guessing.
 */
export class ClusterHistory {
  readonly created = new Map<string, string>();
  readonly deleted = new Set<string>();
  /** A label for what the test is doing now (a fault): figures can be told apart by it. */
  phase = '';
  /** `ADDED:uid` or `DELETED:uid` → the phase in which that happened. */
  private readonly phaseOf = new Map<string, string>();
  private readonly live = new Map<string, string>();
  private next = 0;

  constructor(
    private readonly env: TestEnv,
    private readonly namespace: string,
  ) {}

  /** Returns the member's name if the server holds it afterwards. */
  async create(team?: string): Promise<string | undefined> {
    const name = `m${++this.next}`;
    try {
      await this.env.createMember(this.namespace, name, team);
    } catch {
      // Fall through: the server is the judge of whether it exists.
    }
    const held = await settle(() => this.env.getMember(this.namespace, name));
    if (held) {
      this.created.set(held.metadata.uid, name);
      this.phaseOf.set(`ADDED:${held.metadata.uid}`, this.phase);
      this.live.set(name, held.metadata.uid);
      return name;
    }
    return undefined;
  }

  async remove(): Promise<void> {
    const [name, uid] = [...this.live][0] ?? [];
    if (name === undefined || uid === undefined) return;
    try {
      await this.env.deleteMember(this.namespace, name);
    } catch {
      // As above: ask the server.
    }
    if ((await settle(() => this.env.getMember(this.namespace, name))) === undefined) {
      this.deleted.add(uid);
      this.phaseOf.set(`DELETED:${uid}`, this.phase);
      this.live.delete(name);
    }
  }

  async reteam(team: string): Promise<void> {
    const name = [...this.live.keys()].at(-1);
    if (name !== undefined) await this.env.setTeam(this.namespace, name, team).catch(() => undefined);
  }

  /** The watch starts now: members already gone were never the watcher's to see. */
  startWatching(): void {
    for (const uid of this.deleted) this.created.delete(uid);
    this.deleted.clear();
  }

  /** A few changes of every kind; failures (server down) are tolerated and resolved by asking the server. */
  async churn(rounds: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await this.create(i % 3 === 0 ? undefined : `team-${i % 4}`);
      if (i % 2 === 1) await this.remove();
      if (i % 3 === 2) await this.reteam(`team-${i}`);
    }
  }

  /** Parsed NDJSON events printed by a watcher. */
  static events(lines: readonly string[]): PrintedEvent[] {
    return parseEvents(lines);
  }

  /** True once the watcher has said as much as happened (it may still be catching up). */
  caughtUp(lines: readonly string[]): boolean {
    const events = ClusterHistory.events(lines);
    return (
      events.filter((e) => e.type === 'ADDED').length >= this.created.size &&
      events.filter((e) => e.type === 'DELETED').length >= this.deleted.size
    );
  }

  /**
   * Welcomes and goodbyes counted against what happened, all of them or those of one phase: the figures
   * docs/reliability.md reports.
   */
  compare(lines: readonly string[], phase?: string): Tally {
    const events = ClusterHistory.events(lines);
    const counts = (type: 'ADDED' | 'DELETED', happened: Iterable<string>): Tally => {
      const mine = (uid: string): boolean => phase === undefined || this.phaseOf.get(`${type}:${uid}`) === phase;
      const printed = events.filter((e) => e.type === type && mine(e.uid));
      const uids = new Set(printed.map((e) => e.uid));
      const expected = [...happened].filter(mine);
      return {
        produced: expected.length,
        seen: printed.length,
        missing: expected.filter((uid) => !uids.has(uid)).length,
        duplicated: duplicates(printed.map((e) => e.uid)).length,
        relisted: printed.filter((e) => e.source === 'relist').length,
      };
    };
    const added = counts('ADDED', this.created.keys());
    const deleted = counts('DELETED', this.deleted);
    return {
      produced: added.produced + deleted.produced,
      seen: added.seen + deleted.seen,
      missing: added.missing + deleted.missing,
      duplicated: added.duplicated + deleted.duplicated,
      relisted: added.relisted + deleted.relisted,
    };
  }

  /** Every member welcomed once, every departure seen off once: nothing missing, nothing twice. */
  assertMatches(lines: readonly string[]): Tally {
    const events = ClusterHistory.events(lines);
    const added = events.filter((e) => e.type === 'ADDED').map((e) => e.uid);
    const deleted = events.filter((e) => e.type === 'DELETED').map((e) => e.uid);
    assert.deepEqual(duplicates(added), [], 'a member was welcomed twice');
    assert.deepEqual(duplicates(deleted), [], 'a member was seen off twice');
    assert.deepEqual(new Set(added), new Set(this.created.keys()), 'welcomes differ from the members created');
    assert.deepEqual(new Set(deleted), this.deleted, 'goodbyes differ from the members deleted');
    return this.compare(lines);
  }
}

/** Welcomes and goodbyes only: team changes are not counted, nor are they in `relisted`. */
export interface Tally {
  produced: number;
  seen: number;
  missing: number;
  duplicated: number;
  relisted: number;
}

/** One line for a test's diagnostics. */
export function describeTally(t: Tally): string {
  return `events produced ${t.produced}, seen ${t.seen}, missing ${t.missing}, duplicated ${t.duplicated}, from a relist ${t.relisted}`;
}

function duplicates(values: string[]): string[] {
  return values.filter((v, i) => values.indexOf(v) !== i);
}

export interface ChurnOptions {
  namespaces: readonly string[];
  /** Names per namespace: each is created, re-teamed, deleted and created again (with a new uid). */
  names: number;
  /** Requests in flight at once. */
  concurrency: number;
  prng: Prng;
}

/** One planned change: the name, and the dice that decide what happens to it when its turn comes. */
interface Operation {
  namespace: string;
  name: string;
  roll: number;
  team: string | undefined;
}

/** What a name holds: a member (with its team), or nothing (null). */
type Held = { team: string | undefined } | null;

const TEAMS = ['blue', 'red', 'green', 'gold', 'teal'];

/**
 * Heavy churn for the property tests: creates, re-teams, label changes and deletes over a few hundred names, many
 * at once. The truth is not kept here but read from etcd (test/harness/etcd-history.ts); the driver only
 * needs to know what each name holds to choose a sensible next change. Changes to one name are made one after
 * the other, so that what a name holds is known after each; a request that fails (the server killed) has an
 * unknown outcome, which is read back before that name's next change.
 * The operations are drawn from the seed in advance: the same seed makes the same plan (which request wins the
 * race with a fault still varies from run to run).
 */
export class Churn {
  /** Operations finished so far (whatever their outcome). */
  done = 0;
  /** Requests that failed and were resolved by reading back. */
  unsure = 0;
  private readonly held = new Map<string, Held>();
  private readonly turns = new Map<string, Promise<void>>();
  private readonly progress = new Set<() => void>();
  private labels = 0;

  constructor(
    private readonly env: TestEnv,
    private readonly options: ChurnOptions,
  ) {}

  /** Creates `count` members in each of `namespaces` (the first names of the pool), before any watcher starts. */
  async prefill(count: number, namespaces: readonly string[]): Promise<void> {
    const plan = namespaces.flatMap((namespace) =>
      Array.from({ length: count }, (_, i): Operation => ({ namespace, name: nameOf(i), roll: 1, team: this.randomTeam() })),
    );
    await this.execute(oneByOne(plan));
  }

  /**
   * Random operations over the namespaces' names, `concurrency` at a time: `count` of them, or, when `until` is
   * given, as many as it takes for it to settle and then a tenth of `count` more (the faults it stands for are
   * then followed by churn that is watched live), at least `count`.
   */
  async run(count: number, until?: Promise<unknown>): Promise<void> {
    let stopAt = until === undefined ? count : Number.POSITIVE_INFINITY;
    let drawn = 0;
    const settled = (): void => {
      stopAt = Math.max(count, drawn + Math.ceil(count / 10));
    };
    until?.then(settled, settled);
    await this.execute(() => {
      if (drawn >= stopAt) return undefined;
      drawn += 1;
      return this.draw();
    });
  }

  /** One operation from the seed: drawn in order, so the same seed makes the same sequence. */
  private draw(): Operation {
    const { prng, names, namespaces } = this.options;
    return { namespace: prng.pick(namespaces), name: nameOf(prng.int(0, names - 1)), roll: prng.next(), team: this.randomTeam() };
  }

  /** Resolves once `done` reaches `count`. */
  reached(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.done < count) return;
        this.progress.delete(check);
        resolve();
      };
      this.progress.add(check);
      check();
    });
  }

  /** Creates one more member (after the churn): a watcher that printed it has seen everything before it. */
  async marker(namespace: string, name: string): Promise<void> {
    await this.execute(oneByOne([{ namespace, name, roll: 1, team: 'marker' }]));
  }

  /** What each name touched holds now (`namespace/name` → its team, null for none; absent names left out). */
  holdings(): Map<string, string | null> {
    const teams = new Map<string, string | null>();
    for (const [key, held] of this.held) if (held) teams.set(key, held.team ?? null);
    return teams;
  }

  /** Runs the operations `take` hands out until it has none left. */
  private async execute(take: () => Operation | undefined): Promise<void> {
    const worker = async (): Promise<void> => {
      for (let op = take(); op !== undefined; op = take()) await this.inTurn(op);
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, worker));
  }

  /** Changes to one name wait for each other. */
  private async inTurn(op: Operation): Promise<void> {
    const key = `${op.namespace}/${op.name}`;
    const turn = (this.turns.get(key) ?? Promise.resolve()).then(() => this.apply(key, op));
    this.turns.set(key, turn);
    await turn;
    if (this.turns.get(key) === turn) this.turns.delete(key);
    this.done += 1;
    for (const check of [...this.progress]) check();
  }

  private async apply(key: string, op: Operation): Promise<void> {
    const held = this.held.get(key) ?? null;
    try {
      await this.change(op, held);
      this.held.set(key, this.after(op, held));
    } catch {
      this.unsure += 1;
      this.held.set(key, await this.readBack(op.namespace, op.name));
    }
  }

  /** Absent: created. Present: re-teamed (45 %), labelled (10 %: a change that is no move) or deleted. */
  private change(op: Operation, held: Held): Promise<void> {
    const { namespace, name, roll, team } = op;
    if (!held) return this.env.createMember(namespace, name, team);
    if (roll < 0.45) return this.env.setTeam(namespace, name, team);
    if (roll < 0.55) return this.env.labelMember(namespace, name, 'touched', String(++this.labels));
    return this.env.deleteMember(namespace, name);
  }

  private after(op: Operation, held: Held): Held {
    if (!held || op.roll < 0.45) return { team: op.team };
    return op.roll < 0.55 ? held : null;
  }

  private async readBack(namespace: string, name: string): Promise<Held> {
    // A killed kube-apiserver takes seconds to come back and then answers 503 for a while: wait up to a minute.
    const member = await settle(() => this.env.getMember(namespace, name), 300);
    // One being deleted (an operator's finalizer holds it) is gone for the driver: its name is free once it is let go.
    return member === undefined || member.metadata.deletionTimestamp !== undefined ? null : { team: member.spec?.memberOf };
  }

  private randomTeam(): string | undefined {
    const { prng } = this.options;
    return prng.chance(0.15) ? undefined : prng.pick(TEAMS);
  }
}

function oneByOne(plan: readonly Operation[]): () => Operation | undefined {
  const ops = plan[Symbol.iterator]();
  return () => ops.next().value;
}

function nameOf(i: number): string {
  return `m${String(i).padStart(3, '0')}`;
}
