import type { Kube } from '../kube/client.js';
import { ApiError } from '../kube/http.js';
import { pollUntil } from '../kube/poll.js';
import { memberPath, membersPath, type MemberList, type MemberObject, RESOURCE } from './resource.js';

export type DeleteOutcome = 'deleted' | 'not found';

/** Deletes one Member; a missing one is reported, not thrown, so the caller decides whether it matters. */
export async function deleteMember(kube: Kube, namespace: string, name: string): Promise<DeleteOutcome> {
  try {
    await kube.http.json({ method: 'DELETE', path: memberPath(namespace, name) });
    return 'deleted';
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return 'not found';
    throw kube.explain(err, { verb: 'delete', resource: RESOURCE, namespace });
  }
}

export async function memberNames(kube: Kube, namespace: string): Promise<string[]> {
  const list = await kube.call<MemberList>(
    { verb: 'list', resource: RESOURCE, namespace },
    { method: 'GET', path: membersPath(namespace) },
  );
  return list.items.map((m) => m.metadata.name);
}

/** Members with finalizers linger after the delete call: wait until the API no longer has them. */
export async function waitUntilGone(kube: Kube, namespace: string, names: string[], timeoutMs: number): Promise<void> {
  const op = { verb: 'get', resource: RESOURCE, namespace };
  let pending = names;
  await pollUntil(
    `members to be deleted`,
    async () => {
      const present = await Promise.all(
        pending.map(async (name) => (await kube.find<MemberObject>(op, memberPath(namespace, name))) !== undefined),
      );
      pending = pending.filter((_, i) => present[i]);
      return pending.length === 0;
    },
    timeoutMs,
  );
}
