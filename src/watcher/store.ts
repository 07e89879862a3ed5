import { type EventSource, type EventType, type MemberEvent, type MemberState, memberKey } from './events.js';

/**
 * The members the watcher has announced, by namespace/name. Every event passes through here, so
 * this is where repeats are dropped and where a relist is turned into the events that were missed.
 */
export class MemberStore {
  private readonly members = new Map<string, MemberState>();

  get size(): number {
    return this.members.size;
  }

  /** A watch event; undefined when it tells nothing new (a repeat after a resume, or a stale delete). */
  apply(type: EventType, state: MemberState, source: EventSource, time: string): MemberEvent | undefined {
    const key = memberKey(state.namespace, state.name);
    const known = this.members.get(key);
    if (type === 'DELETED') {
      if (known === undefined || known.uid !== state.uid) return undefined;
      this.members.delete(key);
      return { type, member: state, previousTeam: undefined, source, time };
    }
    if (known !== undefined && known.uid === state.uid && known.resourceVersion === state.resourceVersion) return undefined;
    this.members.set(key, state);
    if (known === undefined || known.uid !== state.uid) {
      // A new uid under a known name was deleted and recreated while we were not looking.
      return { type: 'ADDED', member: state, previousTeam: undefined, source, time };
    }
    return { type: 'MODIFIED', member: state, previousTeam: known.team, source, time };
  }

  /**
   * After a relist: the events that bring what we announced in line with what the API holds now.
   * Goodbyes first (in key order), then welcomes and changes in list order.
   */
  reconcile(listed: readonly MemberState[], time: string): MemberEvent[] {
    const seen = new Set(listed.map((m) => memberKey(m.namespace, m.name)));
    const events: MemberEvent[] = [];
    for (const [key, known] of [...this.members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (seen.has(key)) continue;
      this.members.delete(key);
      events.push({ type: 'DELETED', member: known, previousTeam: undefined, source: 'relist', time });
    }
    for (const state of listed) {
      const known = this.members.get(memberKey(state.namespace, state.name));
      if (known !== undefined && known.uid !== state.uid) {
        events.push(this.apply('DELETED', known, 'relist', time) as MemberEvent);
      }
      const event = this.apply('ADDED', state, 'relist', time);
      if (event) events.push(event);
    }
    return events;
  }

  /** Everyone leaves: the resource type itself went away. */
  clear(time: string): MemberEvent[] {
    return this.reconcile([], time);
  }
}
