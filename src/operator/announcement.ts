import type { MemberState } from '../watcher/events.js';

/** The Event reasons, and the `event` field of the JSON log. */
export type AnnouncementKind = 'Welcomed' | 'Moved' | 'Farewell';

/** One message the operator committed to: a welcome, a team change or a goodbye. */
export interface Announcement {
  kind: AnnouncementKind;
  member: MemberState;
  /** For Moved: the team announced before (undefined: none). */
  previousTeam: string | undefined;
  /** When it was committed (ISO 8601). */
  time: string;
}
