/**
 * Repeats of a Kubernetes Event become one object with a count, as client-go's recorder does it
 * (tools/record/events_cache.go): the same event again (same object, type, reason and message) patches
 * count and lastTimestamp of the object already recorded; more than AGGREGATE_MAX similar events (the same
 * but for the message) within AGGREGATE_WINDOW_MS are folded into one "(combined from similar events)" event.
 * The caches are LRUs of CACHE_ENTRIES, like client-go's, and live in memory: after a restart the next repeat
 * starts a new object, as with client-go.
 */

const CACHE_ENTRIES = 4096;
export const AGGREGATE_MAX = 10;
const AGGREGATE_WINDOW_MS = 600_000;
export const COMBINED_PREFIX = '(combined from similar events): ';

/** What an Event says, before correlation. */
export interface EventFacts {
  namespace: string;
  /** The involved object. */
  name: string;
  uid: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What to send: a new Event object, or a patch of one recorded before. */
export type Correlated =
  | { kind: 'create'; key: string; name: string; message: string; count: 1; firstTimestamp: string; lastTimestamp: string }
  | { kind: 'patch'; key: string; name: string; message: string; count: number; firstTimestamp: string; lastTimestamp: string };

interface Recorded {
  name: string;
  count: number;
  firstTimestamp: string;
}

interface Similar {
  messages: Set<string>;
  lastMs: number;
}

/** A Map used as an LRU: reading an entry moves it to the back, the front is dropped when full. */
class Lru<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.limit) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
  }
}

export class EventCorrelator {
  private readonly known: Lru<Recorded>;
  private readonly similar: Lru<Similar>;

  constructor(limit = CACHE_ENTRIES) {
    this.known = new Lru(limit);
    this.similar = new Lru(limit);
  }

  /**
   * Decides how to record `facts` observed at `now`; `unique` makes the name of a new object (client-go: the
   * time in nanoseconds in hex). Call `recorded()` once the server accepted it, so a repeat patches it.
   */
  correlate(facts: EventFacts, now: Date, unique: string): Correlated {
    const timestamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const { key, message } = this.aggregate(facts, now.getTime());
    const before = this.known.get(key);
    if (before === undefined) {
      return {
        kind: 'create',
        key,
        name: eventName(facts.name, unique),
        message,
        count: 1,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
      };
    }
    return {
      kind: 'patch',
      key,
      name: before.name,
      message,
      count: before.count + 1,
      firstTimestamp: before.firstTimestamp,
      lastTimestamp: timestamp,
    };
  }

  /** The server holds this Event now: the next repeat of its key patches it. */
  recorded(event: Correlated): void {
    this.known.set(event.key, { name: event.name, count: event.count, firstTimestamp: event.firstTimestamp });
  }

  private aggregate(facts: EventFacts, nowMs: number): { key: string; message: string } {
    const similarKey = [facts.namespace, facts.name, facts.uid, facts.type, facts.reason].join('\u0000');
    const exactKey = `${similarKey}\u0000${facts.message}`;
    let group = this.similar.get(similarKey);
    if (group === undefined || nowMs - group.lastMs > AGGREGATE_WINDOW_MS) group = { messages: new Set(), lastMs: nowMs };
    group.messages.add(facts.message);
    group.lastMs = nowMs;
    this.similar.set(similarKey, group);
    if (group.messages.size < AGGREGATE_MAX) return { key: exactKey, message: facts.message };
    // As client-go: keep the set from growing past the limit, and record the combined event under one key.
    const first = group.messages.values().next();
    if (first.done !== true) group.messages.delete(first.value);
    return { key: similarKey, message: COMBINED_PREFIX + facts.message };
  }
}

const NAME_MAX = 253;

/** client-go names an Event after its object and the time; a long object name is cut so the whole stays a valid name. */
export function eventName(objectName: string, unique: string): string {
  const room = NAME_MAX - unique.length - 1;
  const base = objectName.length <= room ? objectName : objectName.slice(0, room).replace(/[^a-z0-9]+$/, '');
  return `${base}.${unique}`;
}
