import assert from 'node:assert/strict';
import type { TestEnv } from './support.js';

interface Event {
  type: string;
  uid: string;
  name: string;
  team: string | null;
  source: string;
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
    const held = await this.settle(() => this.env.getMember(this.namespace, name));
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
    if ((await this.settle(() => this.env.getMember(this.namespace, name))) === undefined) {
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

  /** Retries reads while the API server is away. */
  private async settle<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await read();
      } catch (err) {
        if (attempt > 100) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Parsed NDJSON events printed by a watcher. */
  static events(lines: readonly string[]): Event[] {
    return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
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
