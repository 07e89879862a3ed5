import type { MemberEvent } from '../watcher/events.js';
import { escapeJson } from './escape.js';

/** Bumped when a field changes meaning or disappears; new fields may be added within a version. */
export const EVENT_SCHEMA_VERSION = 1;

/**
 * One NDJSON line per event. Field order is fixed and absent values are null, so consumers
 * (jq, scripts) can rely on every field being present.
 */
export function formatEventJson(event: MemberEvent): string {
  return jsonLine({
    schemaVersion: EVENT_SCHEMA_VERSION,
    type: event.type,
    namespace: event.member.namespace,
    name: event.member.name,
    uid: event.member.uid,
    team: event.member.team ?? null,
    previousTeam: event.type === 'MODIFIED' || event.selection?.change === 'left' ? (event.previousTeam ?? null) : null,
    resourceVersion: event.member.resourceVersion,
    time: event.time,
    source: event.source,
    // Added in schemaVersion 1: DELETED keeps meaning "gone from what the watch shows", as the API server and
    // kubectl have it; a member that is still there but no longer selected says so here ("left"), one that
    // begins to be selected without being new says "entered". Deleted members, and every other event, have null.
    selection: event.selection?.change ?? null,
  });
}

/**
 * One JSON object on one line. JSON.stringify leaves DEL, C1 controls, the line separators and the bidirectional
 * and invisible characters raw: `jq` and `cat` would hand them to a terminal, so they are escaped too.
 */
export function jsonLine(value: object): string {
  return escapeJson(JSON.stringify(value));
}
