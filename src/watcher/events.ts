/** What the watcher keeps of a Member: what messages need, not the whole object (memory stays small). */
export interface MemberState {
  uid: string;
  namespace: string;
  name: string;
  team: string | undefined;
  resourceVersion: string;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * initial: greeting of members that existed when the watch started; watch: a live event;
 * relist: made up after a relist, for what changed while the watch was not looking.
 */
export type EventSource = 'initial' | 'watch' | 'relist';

/**
 * A member that neither came nor went, but began or stopped to be what the watch selects (-l, --field-selector,
 * --team): `by` says whether its team did it (--team) or the selectors did.
 */
export interface SelectionChange {
  change: 'entered' | 'left';
  by: 'team' | 'selector';
}

/** S: what the consumer keeps per member; the operator keeps more than `watch` (status, finalizer, deletion). */
export interface MemberEvent<S extends MemberState = MemberState> {
  type: EventType;
  member: S;
  /**
   * The team before a MODIFIED event, and the team a member had while it was selected for one that left the
   * selection; undefined for other events and when the member had no team.
   */
  previousTeam: string | undefined;
  source: EventSource;
  /** When the watcher learned of it (ISO 8601): the API does not say when a change happened. */
  time: string;
  /**
   * Events of one batch arrived together, in one list or one relist: a snapshot, which says nothing of the
   * order in which its members came to be as they are. Each live watch event is a batch of its own (undefined).
   */
  batch?: number;
  /** Set for an ADDED that entered the selection, and a DELETED that left it while the member still exists. */
  selection?: SelectionChange;
}

/** What the watcher reports about itself, for spinners and notices; never printed on stdout. */
export type WatcherStatus =
  | { kind: 'connecting' }
  /** The first list is complete: the watch starts with `members` members. */
  | { kind: 'listed'; members: number }
  /**
   * The watch is streaming; `first` only for the first time since the start. A resumed watch counts once it has
   * delivered something or stayed up a moment: one that the server ends at once (410 Gone) has not reconnected.
   */
  | { kind: 'live'; first: boolean }
  /** A request failed and is retried after `delayMs`; `cause` says why (the presenter words it). */
  | { kind: 'reconnecting'; cause: Error; delayMs: number; attempt: number }
  /**
   * Listing again to catch up: the server no longer holds the history to resume from (410 Gone), or, with
   * `snapshot`, a list took longer than the server keeps the snapshot its pages are read from (its continue token
   * expired).
   */
  | { kind: 'relisting'; snapshot?: boolean }
  /** The Member resource type is not served (not installed, or deleted): reported once per wait, not per poll. */
  | { kind: 'waiting-for-crd' }
  /** Something the server sent could not be read as a member or a watch event, and was skipped. */
  | { kind: 'skipped'; what: 'list item' | 'watch event'; problem: string; text: string };

export function memberKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
