import { createHash } from 'node:crypto';
import type { MemberState } from '../watcher/events.js';

/** The Event reasons, and the `event` field of the JSON log. */
export type AnnouncementKind = 'Welcomed' | 'Moved' | 'Farewell';

/** One message the operator commits to: a welcome, a team change or a goodbye. */
export interface Announcement {
  kind: AnnouncementKind;
  member: MemberState;
  /** For Moved: the team announced before (undefined: none). */
  previousTeam: string | undefined;
  /** For Moved: status.announcedAt of the announcement it continues from. */
  departedAt: string | undefined;
  /** When it was committed (ISO 8601); recorded as status.announcedAt. */
  time: string;
  /** The member's metadata.generation it was decided from; recorded as status.observedGeneration. */
  generation: number;
  /** The name of the Event that commits it: one name per announcement, so that the API server lets it be made once. */
  eventName: string;
}

/**
 * The name of an announcement's Event, from the member's uid (unique per incarnation, 36 characters): a welcome
 * and a goodbye happen once per incarnation; a move is named after the announcement it departs from (its
 * announcedAt), so that only one move can continue each announced team, however many processes try.
 */
export function announcementEventName(uid: string, kind: AnnouncementKind, departedAt: string | undefined): string {
  switch (kind) {
    case 'Welcomed':
      return `${uid}.welcomed`;
    case 'Farewell':
      return `${uid}.farewell`;
    case 'Moved':
      return `${uid}.moved.${timeToken(departedAt ?? '')}`;
  }
}

/** The time in milliseconds when it reads as one; any other text (a status edited by hand) by a hash of it. */
function timeToken(time: string): string {
  const ms = Date.parse(time);
  if (Number.isFinite(ms) && ms >= 0) return String(ms);
  return `x${createHash('sha256').update(time).digest('hex').slice(0, 16)}`;
}

/**
 * The time of a new announcement: now, but always after the one it departs from, so that each announcement of
 * a member has its own time, and the move that departs from it its own Event name.
 */
export function announcementTime(now: Date, departedAt: string | undefined): string {
  const after = departedAt === undefined ? Number.NaN : Date.parse(departedAt);
  return new Date(Number.isFinite(after) && after >= now.getTime() ? after + 1 : now.getTime()).toISOString();
}
