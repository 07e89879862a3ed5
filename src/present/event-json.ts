import type { MemberEvent } from '../watcher/events.js';

/** Bumped when a field changes meaning or disappears; new fields may be added within a version. */
export const EVENT_SCHEMA_VERSION = 1;

// JSON.stringify leaves DEL, C1 controls and the JavaScript line separators raw; none may reach a terminal.
const UNSAFE = /[\u007f-\u009f\u2028\u2029]/g;

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
    previousTeam: event.type === 'MODIFIED' ? (event.previousTeam ?? null) : null,
    resourceVersion: event.member.resourceVersion,
    time: event.time,
    source: event.source,
  });
}

/** One JSON object on one line, with the characters JSON.stringify leaves raw escaped too. */
export function jsonLine(value: object): string {
  return JSON.stringify(value).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
