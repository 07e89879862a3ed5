import { type EventSource, type EventType, type MemberEvent, type MemberState, memberKey, type SelectionChange } from './events.js';

/** A member that left the selection, as it is now, and what made it leave. */
export interface Departure<S> {
  state: S;
  by: SelectionChange['by'];
}

/** The members of one namespace, and the one copy of its name that all of them share. */
interface Namespace<S> {
  name: string;
  members: Map<string, S>;
}

/**
 * The members the watcher has announced, by namespace and name. Every event passes through here, so
 * this is where repeats are dropped and where a relist is turned into the events that were missed.
 * Nested maps rather than one keyed by "namespace/name": at 100,000 members that is 100,000 key strings and
 * 100,000 copies of a few namespace names fewer (about 8 MB).
 * S is what is kept per member: `watch` keeps MemberState, the operator a little more.
 */
export class MemberStore<S extends MemberState = MemberState> {
  private readonly namespaces = new Map<string, Namespace<S>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** A watch event; undefined when it tells nothing new (a repeat after a resume, or a stale delete). */
  apply(type: EventType, state: S, source: EventSource, time: string): MemberEvent<S> | undefined {
    const known = this.get(state.namespace, state.name);
    if (type === 'DELETED') {
      if (known === undefined || known.uid !== state.uid) return undefined;
      this.remove(known);
      return { type, member: state, previousTeam: undefined, source, time };
    }
    if (known !== undefined && known.uid === state.uid && known.resourceVersion === state.resourceVersion) return undefined;
    const kept = this.put(state);
    if (known === undefined || known.uid !== state.uid) {
      // A new uid under a known name was deleted and recreated while we were not looking.
      return { type: 'ADDED', member: kept, previousTeam: undefined, source, time };
    }
    return { type: 'MODIFIED', member: kept, previousTeam: known.team, source, time };
  }

  /** A member we announced no longer selected though it still exists, as `state` shows it now. */
  leave(state: S, by: SelectionChange['by'], source: EventSource, time: string): MemberEvent<S> | undefined {
    const known = this.get(state.namespace, state.name);
    if (known === undefined || known.uid !== state.uid) return undefined;
    this.remove(known);
    return { type: 'DELETED', member: state, previousTeam: known.team, source, time, selection: { change: 'left', by } };
  }

  /** A member that existed before and is selected now. */
  enter(state: S, by: SelectionChange['by'], source: EventSource, time: string): MemberEvent<S> {
    const kept = this.put(state);
    return { type: 'ADDED', member: kept, previousTeam: undefined, source, time, selection: { change: 'entered', by } };
  }

  /**
   * After a relist: the events that bring what we announced in line with what the API holds now.
   * Goodbyes first (in namespace/name order), then welcomes and changes in list order. `departed` holds the
   * members that are missing from the list because they left the selection, by namespace/name: they are seen
   * off as such, and every other missing member as deleted.
   */
  reconcile(listed: readonly S[], time: string, departed: ReadonlyMap<string, Departure<S>> = new Map()): MemberEvent<S>[] {
    const seen = new Set(listed.map((m) => memberKey(m.namespace, m.name)));
    const events: MemberEvent<S>[] = [];
    for (const known of this.sorted()) {
      const key = memberKey(known.namespace, known.name);
      if (seen.has(key)) continue;
      const departure = departed.get(key);
      const left = departure === undefined ? undefined : this.leave(departure.state, departure.by, 'relist', time);
      if (left !== undefined) {
        events.push(left);
        continue;
      }
      this.remove(known);
      events.push({ type: 'DELETED', member: known, previousTeam: undefined, source: 'relist', time });
    }
    for (const state of listed) {
      const known = this.get(state.namespace, state.name);
      if (known !== undefined && known.uid !== state.uid) {
        events.push(this.apply('DELETED', known, 'relist', time) as MemberEvent<S>);
      }
      const event = this.apply('ADDED', state, 'relist', time);
      if (event) events.push(event);
    }
    return events;
  }

  /** Everyone leaves: the resource type itself went away. */
  clear(time: string): MemberEvent<S>[] {
    return this.reconcile([], time);
  }

  get(namespace: string, name: string): S | undefined {
    return this.namespaces.get(namespace)?.members.get(name);
  }

  /** Every member, namespace by namespace (no order promised). */
  *values(): IterableIterator<S> {
    for (const ns of this.namespaces.values()) yield* ns.members.values();
  }

  /** How many members each namespace holds, without walking the members. */
  *namespaceSizes(): IterableIterator<[namespace: string, members: number]> {
    for (const ns of this.namespaces.values()) yield [ns.name, ns.members.size];
  }

  /** Stores the state with its namespace's shared name, and returns what was stored. */
  private put(state: S): S {
    let ns = this.namespaces.get(state.namespace);
    if (ns === undefined) {
      ns = { name: state.namespace, members: new Map() };
      this.namespaces.set(ns.name, ns);
    }
    const kept = { ...state, namespace: ns.name };
    if (!ns.members.has(kept.name)) this.count += 1;
    ns.members.set(kept.name, kept);
    return kept;
  }

  private remove(state: S): void {
    const ns = this.namespaces.get(state.namespace);
    if (ns === undefined || !ns.members.delete(state.name)) return;
    this.count -= 1;
    if (ns.members.size === 0) this.namespaces.delete(ns.name);
  }

  private sorted(): S[] {
    const keyed = [...this.namespaces.values()].flatMap((ns) =>
      [...ns.members.values()].map((m) => [memberKey(m.namespace, m.name), m] as const),
    );
    return keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
  }
}
