import type { MemberState } from './events.js';

/**
 * What the API server sends is checked field by field before anything relies on it: a server, a proxy in front of
 * it, or a CRD without a schema can hand over any JSON at all, and one odd item must not end the watch.
 */

export type Decoded<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * One line of a watch stream, once it is known to be JSON. Only a readable member or a bookmark moves the watch's
 * resourceVersion on: an unreadable event's resourceVersion is no more to be trusted than the rest of it.
 */
export type WatchLine =
  | { kind: 'change'; type: 'ADDED' | 'MODIFIED' | 'DELETED'; member: Decoded<MemberState> }
  /** `initialEventsEnd`: the bookmark that ends the initial events of a streamed list (KEP-3157). */
  | { kind: 'bookmark'; resourceVersion: string; initialEventsEnd: boolean }
  | { kind: 'error'; status: ErrorStatus }
  | { kind: 'malformed'; problem: string };

/** The Status object of an ERROR event, as far as it says anything. */
export interface ErrorStatus {
  code: number | undefined;
  reason: string | undefined;
  message: string | undefined;
}

export interface ListMeta {
  resourceVersion: string;
  continue: string | undefined;
}

const CHANGES = new Set(['ADDED', 'MODIFIED', 'DELETED']);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/**
 * A Member as the watcher keeps it. `namespace` is the one watched (undefined with -A): an object that does not say
 * its namespace is taken to be in it, one that names another namespace is not ours.
 */
export function decodeMember(raw: unknown, namespace: string | undefined): Decoded<MemberState> {
  if (!isObject(raw)) return fail(`the object is ${describeValue(raw)}`);
  const meta = raw.metadata;
  if (!isObject(meta)) return fail(meta === undefined ? 'it has no metadata' : `its metadata is ${describeValue(meta)}`);
  const problem = metadataProblem(meta, namespace);
  if (problem !== undefined) return fail(problem);
  return {
    ok: true,
    value: {
      uid: meta.uid as string,
      namespace: nonEmpty(meta.namespace) ? meta.namespace : (namespace as string),
      name: meta.name as string,
      team: teamOf(raw.spec),
      resourceVersion: meta.resourceVersion as string,
    },
  };
}

function metadataProblem(meta: Json, namespace: string | undefined): string | undefined {
  for (const field of ['name', 'uid', 'resourceVersion'] as const) {
    if (!nonEmpty(meta[field])) return `its metadata.${field} is ${describeValue(meta[field])}`;
  }
  const ns = meta.namespace;
  if (ns !== undefined && typeof ns !== 'string') return `its metadata.namespace is ${describeValue(ns)}`;
  if (namespace === undefined && !nonEmpty(ns)) return 'it names no namespace';
  if (namespace !== undefined && nonEmpty(ns) && ns !== namespace) return `it is in namespace ${ns}, not ${namespace}`;
  return undefined;
}

/**
 * The team is spec.memberOf when that is a non-empty string. The seed's CRD had no schema, so `""`, numbers and
 * objects can be found there: none of them names a team, and "to the team " with nothing after it tells no one anything.
 */
export function teamOf(spec: unknown): string | undefined {
  if (!isObject(spec)) return undefined;
  return nonEmpty(spec.memberOf) ? spec.memberOf : undefined;
}

/** A parsed watch line; the caller parses the JSON so that text that is not JSON can be told apart. */
export function decodeWatchLine(raw: unknown, namespace: string | undefined): WatchLine {
  if (!isObject(raw)) return { kind: 'malformed', problem: `the event is ${describeValue(raw)}` };
  const { type, object } = raw;
  if (type === 'ERROR') return { kind: 'error', status: errorStatus(object) };
  if (type === 'BOOKMARK') {
    const resourceVersion = resourceVersionOf(object);
    if (resourceVersion !== undefined) return { kind: 'bookmark', resourceVersion, initialEventsEnd: endsInitialEvents(object) };
    return { kind: 'malformed', problem: 'a BOOKMARK event without metadata.resourceVersion' };
  }
  if (typeof type !== 'string' || !CHANGES.has(type)) return { kind: 'malformed', problem: `an event of type ${describeValue(type)}` };
  return { kind: 'change', type: type as 'ADDED' | 'MODIFIED' | 'DELETED', member: decodeMember(object, namespace) };
}

function resourceVersionOf(object: unknown): string | undefined {
  if (!isObject(object) || !isObject(object.metadata)) return undefined;
  const rv = object.metadata.resourceVersion;
  return nonEmpty(rv) ? rv : undefined;
}

const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** Only the exact value "true" ends the initial events, as client-go reads the annotation. */
function endsInitialEvents(object: unknown): boolean {
  const metadata = isObject(object) && isObject(object.metadata) ? object.metadata : {};
  return isObject(metadata.annotations) && metadata.annotations[INITIAL_EVENTS_END] === 'true';
}

function errorStatus(object: unknown): ErrorStatus {
  const status = isObject(object) ? object : {};
  return {
    code: typeof status.code === 'number' ? status.code : undefined,
    reason: typeof status.reason === 'string' ? status.reason : undefined,
    message: typeof status.message === 'string' ? status.message : undefined,
  };
}

/** The list's own metadata; undefined when the answer is not a Kubernetes list at all. */
export function decodeListMeta(raw: unknown): ListMeta | undefined {
  if (!isObject(raw) || !isObject(raw.metadata)) return undefined;
  if (raw.items !== undefined && raw.items !== null && !Array.isArray(raw.items)) return undefined;
  const { resourceVersion, continue: token } = raw.metadata;
  if (!nonEmpty(resourceVersion)) return undefined;
  if (token !== undefined && typeof token !== 'string') return undefined;
  return { resourceVersion, continue: nonEmpty(token) ? token : undefined };
}

/** A short, one-line account of a value for messages: its kind, or the value itself when it is small. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (value === '') return 'empty';
  return `${typeof value} ${excerpt(JSON.stringify(value))}`;
}

/** The start of a text, for messages about what the server sent. */
export function excerpt(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}

function fail<T>(problem: string): Decoded<T> {
  return { ok: false, problem };
}
