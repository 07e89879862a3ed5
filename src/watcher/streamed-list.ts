import { type EventType, type MemberState, memberKey } from './events.js';

/**
 * A list asked for as a watch stream (KEP-3157) whose initial events are still arriving. A relist gathers them,
 * since it can tell who left only from the whole state; the first list greets each as it arrives instead.
 */
export class StreamedList<S extends MemberState> {
  private readonly state = new Map<string, S>();

  constructor(readonly gathering: boolean) {}

  /** The initial events add up to the state: the server may also send a change or a deletion among them. */
  gather(type: EventType, member: S): void {
    const key = memberKey(member.namespace, member.name);
    if (type !== 'DELETED') this.state.set(key, member);
    else if (this.state.get(key)?.uid === member.uid) this.state.delete(key);
  }

  gathered(): S[] {
    return [...this.state.values()];
  }
}

/** A streamed list whose initial events stopped, or ended, without the bookmark that ends them. */
export class InitialEventsUnended extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InitialEventsUnended';
  }
}

/** Runs `expire` once `ms` pass after arm() without clear() or another arm(). */
export class Deadline {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly expire: () => void,
  ) {}

  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.expire, this.ms);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}
