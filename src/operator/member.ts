import { FINALIZER, type MemberObject } from '../members/resource.js';
import { memberState } from '../watcher/watcher.js';
import type { MemberState } from '../watcher/events.js';

/**
 * What the operator keeps per member: what `watch` keeps, plus what its decisions read — whether the member
 * is being deleted, its finalizers, and the status it last wrote. Everything else of the object is dropped.
 */
export interface OperatorMember extends MemberState {
  generation: number;
  deleting: boolean;
  /** undefined when there are none; ONLY_OURS (one shared array) in the common case. */
  finalizers: readonly string[] | undefined;
  announcedTeam: string | undefined;
  /** Absent until the member was welcomed. */
  announcedAt: string | undefined;
  observedGeneration: number | undefined;
}

/** Shared by every member that carries our finalizer alone: no array and no string per member. */
export const ONLY_OURS: readonly string[] = Object.freeze([FINALIZER]);

/** `member`: what `watch` keeps of it, when the watcher has read it already. */
export function operatorMember(object: MemberObject, member: MemberState = memberState(object)): OperatorMember {
  const { metadata, status } = object;
  return {
    ...member,
    generation: typeof metadata.generation === 'number' ? metadata.generation : 0,
    deleting: typeof metadata.deletionTimestamp === 'string',
    finalizers: shareFinalizers(metadata.finalizers),
    announcedTeam: typeof status?.announcedTeam === 'string' ? status.announcedTeam : undefined,
    announcedAt: typeof status?.announcedAt === 'string' ? status.announcedAt : undefined,
    observedGeneration: typeof status?.observedGeneration === 'number' ? status.observedGeneration : undefined,
  };
}

/** The watcher checked what `watch` reads; the rest is checked here, as odd JSON from a proxy must not end the operator. */
function shareFinalizers(value: unknown): readonly string[] | undefined {
  const list = Array.isArray(value) ? value.filter((f): f is string => typeof f === 'string') : [];
  if (list.length === 0) return undefined;
  return list.length === 1 && list[0] === FINALIZER ? ONLY_OURS : list;
}

export function holdsFinalizer(member: OperatorMember): boolean {
  return member.finalizers?.includes(FINALIZER) === true;
}

export function welcomed(member: OperatorMember): boolean {
  return member.announcedAt !== undefined;
}

/**
 * The one write that brings a member closer to what the operator wants, or undefined when it is there.
 * - hold: add our finalizer, before the welcome, so that a deletion waits for its goodbye;
 * - welcome / move: the status records the announcement (the commit point of the message);
 * - observe: only status.observedGeneration is behind (the team went away and came back);
 * - farewell: remove our finalizer from a welcomed member being deleted (the commit point of the goodbye);
 * - release: remove our finalizer without a word (never welcomed, or the operator runs --no-finalizer).
 */
export type Action = 'hold' | 'welcome' | 'move' | 'observe' | 'farewell' | 'release';

export function decide(member: OperatorMember, useFinalizer: boolean): Action | undefined {
  const held = holdsFinalizer(member);
  if (member.deleting) {
    if (!held) return undefined;
    return useFinalizer && welcomed(member) ? 'farewell' : 'release';
  }
  if (held !== useFinalizer) return held ? 'release' : 'hold';
  if (!welcomed(member)) return 'welcome';
  if (member.announcedTeam !== member.team) return 'move';
  if (member.observedGeneration !== member.generation) return 'observe';
  return undefined;
}
