import type { Kube } from '../kube/client.js';
import { ApiError } from '../kube/http.js';
import { memberPath, membersPath, type MemberList, type MemberObject } from '../members/resource.js';

/**
 * What a watch selects, and how it tells a member that left the selection from one that was deleted.
 *
 * The API server sends DELETED both when a member is deleted and when a change makes it stop matching the
 * watch's selectors, and in both cases with the object as it was before (still matching, no deletionTimestamp):
 * the event cannot tell them apart. What the API can tell is whether the member existed at the event's
 * resourceVersion, read exactly at that version (resourceVersionMatch=Exact) and by name only, without the
 * selectors. Likewise an ADDED is a member that entered the selection if it existed just before.
 */

/** A field selector's value, escaped as the API server's fields.EscapeValue does. */
export function escapeFieldValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** The field selector the server selects a team by, where the Member CRD declares spec.memberOf selectable. */
export function teamFieldSelector(team: string): string {
  return `spec.memberOf=${escapeFieldValue(team)}`;
}

/**
 * Whether the server refused a selector because spec.memberOf is not selectable there: a server before 1.30, or
 * a CRD installed without selectableFields ("field label not supported: spec.memberOf").
 */
export function teamNotSelectable(err: unknown): boolean {
  return err instanceof ApiError && err.status === 400 && err.message.includes('spec.memberOf');
}

/** What the API holds of one member at a resourceVersion: its object, nothing, or 'expired' (compacted away). */
export type PastMember = MemberObject | undefined | 'expired';

/** The member named so, as it was exactly at `resourceVersion`, whatever the watch selects. */
export async function memberAt(
  kube: Kube,
  at: { namespace: string; name: string; resourceVersion: string },
  signal: AbortSignal,
): Promise<PastMember> {
  try {
    const list = await kube.http.json<MemberList>({
      method: 'GET',
      path: membersPath(at.namespace),
      query: {
        fieldSelector: `metadata.name=${escapeFieldValue(at.name)}`,
        resourceVersion: at.resourceVersion,
        resourceVersionMatch: 'Exact',
      },
      signal,
    });
    return Array.isArray(list.items) ? list.items[0] : undefined;
  } catch (err) {
    if (err instanceof ApiError && err.status === 410) return 'expired';
    throw err;
  }
}

/** The member named so as it is now; undefined when it does not exist. */
export async function memberNow(
  kube: Kube,
  at: { namespace: string; name: string },
  signal: AbortSignal,
): Promise<MemberObject | undefined> {
  try {
    return await kube.http.json<MemberObject>({ method: 'GET', path: memberPath(at.namespace, at.name), signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return undefined;
    throw err;
  }
}
