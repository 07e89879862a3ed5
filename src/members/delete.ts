import { type WriteFailure, writeFailure } from '../kube/apply.js';
import type { Kube } from '../kube/client.js';
import { ApiError, type ApiRequest } from '../kube/http.js';
import { pollUntil } from '../kube/poll.js';
import { heldBy, nameList } from './names.js';
import { forEachMemberPage } from './pages.js';
import { memberOp, memberPath, type MemberObject } from './resource.js';
import { memberShapeProblem, notAMember } from './validate.js';

/** `heldBy`: the finalizers that keep a member that was asked to go (Terminating); empty when it is gone. */
export type DeleteResult =
  { kind: 'deleted'; uid: string | undefined; heldBy: string[] } | { kind: 'not found' } | ({ kind: 'failed' } & WriteFailure);

/** Deletes one Member; a missing one is reported, not thrown, so the caller decides whether it matters. */
export async function deleteMember(kube: Kube, namespace: string, name: string, cutOff: AbortSignal): Promise<DeleteResult> {
  const op = memberOp('delete', namespace);
  try {
    const answer = await kube.http.json<MemberObject | { kind?: string; status?: string }>({
      method: 'DELETE',
      path: memberPath(namespace, name),
      signal: cutOff,
    });
    return { kind: 'deleted', ...deletion(answer, name, namespace) };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return { kind: 'not found' };
    return { kind: 'failed', ...writeFailure(kube.explain(err, op), err, cutOff) };
  }
}

/**
 * The API server answers a delete with the object (still there while finalizers hold it: what they are, and its
 * uid) or a Success Status (gone).
 */
function deletion(answer: unknown, name: string, namespace: string): { uid: string | undefined; heldBy: string[] } {
  const status = answer as { kind?: unknown; status?: unknown };
  if (status.kind === 'Status' && status.status === 'Success') return { uid: undefined, heldBy: [] };
  const problem = memberShapeProblem(answer, name, namespace);
  if (problem !== undefined) throw notAMember('delete', name, problem);
  const { metadata } = answer as MemberObject;
  return { uid: metadata.uid, heldBy: metadata.deletionTimestamp === undefined ? [] : (metadata.finalizers ?? []) };
}

/** Every Member in the namespace (all pages), for --all. */
export async function memberNames(kube: Kube, namespace: string, cutOff: AbortSignal): Promise<string[]> {
  // A listing that starts over (an expired continue token) can name a member twice.
  return [...new Set((await listMembers(kube, namespace, { signal: cutOff })).map((m) => m.name))];
}

/** What a delete needs of a member: which one it is, and what holds it. */
interface Listed {
  name: string;
  uid: string | undefined;
  finalizers: string[];
}

async function listMembers(kube: Kube, namespace: string, request: Pick<ApiRequest, 'signal' | 'idleTimeoutMs'>): Promise<Listed[]> {
  const listed: Listed[] = [];
  await forEachMemberPage(
    kube,
    namespace,
    {
      keep: ({ metadata }) => ({ name: metadata.name, uid: metadata.uid, finalizers: metadata.finalizers ?? [] }),
      onPage: (page) => {
        listed.push(...page);
      },
    },
    request,
  );
  return listed;
}

export interface Deleted {
  name: string;
  /** The deleted object's uid: a member created anew under the same name is not the one awaited. */
  uid: string | undefined;
}

// Up to this many pending members are checked one by one; more are found with one list of the namespace.
const GET_EACH_UP_TO = 16;

/** Members with finalizers linger after the delete call: wait until the API no longer has them. */
export async function waitUntilGone(
  kube: Kube,
  namespace: string,
  deleted: Deleted[],
  limits: { timeoutMs: number; limitMs: number; signal: AbortSignal },
): Promise<void> {
  let pending = new Map(deleted.map((d) => [d.name, { uid: d.uid, finalizers: [] as string[] }]));
  const check = async (): Promise<boolean> => {
    const present = pending.size <= GET_EACH_UP_TO ? await getEach(kube, namespace, [...pending.keys()]) : await listAll(kube, namespace);
    const still = new Map<string, { uid: string | undefined; finalizers: string[] }>();
    for (const [name, wanted] of pending) {
      const member = present.get(name);
      if (member !== undefined && (wanted.uid === undefined || member.uid === wanted.uid)) {
        still.set(name, { uid: wanted.uid, finalizers: member.finalizers });
      }
    }
    pending = still;
    return pending.size === 0;
  };
  const what = deleted.length === 1 ? `member ${deleted[0]?.name ?? ''} to be deleted` : `${deleted.length} members to be deleted`;
  await pollUntil(what, check, limits.timeoutMs, {
    pending: () => describePending(pending),
    limitMs: limits.limitMs,
    signal: limits.signal,
  });
}

function describePending(pending: Map<string, { finalizers: string[] }>): string {
  return nameList([...pending].map(([name, { finalizers }]) => `${name}${heldBy(finalizers)}`));
}

// A check started at the deadline may take this long on a server that stopped answering, and no longer.
const CHECK_IDLE_MS = 5_000;

async function getEach(kube: Kube, namespace: string, names: string[]): Promise<Map<string, Listed>> {
  const op = memberOp('get', namespace);
  const found = await Promise.all(
    names.map(async (name) => {
      try {
        return await kube.http.json<MemberObject>({ method: 'GET', path: memberPath(namespace, name), idleTimeoutMs: CHECK_IDLE_MS });
      } catch (err) {
        if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return undefined;
        throw kube.explain(err, op);
      }
    }),
  );
  return new Map(
    found.flatMap((m) =>
      m?.metadata?.name === undefined
        ? []
        : [[m.metadata.name, { name: m.metadata.name, uid: m.metadata.uid, finalizers: m.metadata.finalizers ?? [] }]],
    ),
  );
}

async function listAll(kube: Kube, namespace: string): Promise<Map<string, Listed>> {
  const members = await listMembers(kube, namespace, { idleTimeoutMs: CHECK_IDLE_MS });
  return new Map(members.map((m) => [m.name, m]));
}
