import type { Kube } from '../kube/client.js';
import { ApiError, type ApiRequest } from '../kube/http.js';
import { ListSplitter } from '../kube/list-splitter.js';
import { memberOp, membersPath, type MemberObject } from './resource.js';
import { notAMember } from './validate.js';

const PAGE_SIZE = 500;

/**
 * Every Member (in one namespace, or all), `PAGE_SIZE` at a time, each page read item by item as it arrives: of
 * each member only what `keep` makes of it is kept (undefined: nothing), so that memory is bounded by what the
 * caller keeps of a page, never by the size of the objects (2,000 members of 100 KB are 200 MB of JSON).
 * Each page is a quorum read. A continue token can expire (410) when etcd is compacted during a long listing:
 * then the listing starts over, as client-go's pager does, so `onPage` must not mind seeing a member twice.
 */
export async function forEachMemberPage<T>(
  kube: Kube,
  namespace: string | undefined,
  page: { keep: (member: MemberObject) => T | undefined; onPage: (kept: T[]) => Promise<void> | void },
  request: Pick<ApiRequest, 'signal' | 'idleTimeoutMs'> = {},
): Promise<void> {
  const op = memberOp('list', namespace);
  let token: string | undefined;
  for (;;) {
    let kept: T[];
    let next: string | undefined;
    try {
      ({ kept, next } = await readPage(kube, { namespace, token, keep: page.keep }, request));
    } catch (err) {
      if (err instanceof MalformedList) throw notAMember('list', '(all)', err.message);
      if (token === undefined || !(err instanceof ApiError && err.status === 410)) throw kube.explain(err, op);
      token = undefined;
      continue;
    }
    await page.onPage(kept);
    token = next;
    if (token === undefined) return;
  }
}

/** An answer that is not a list of members, found while reading it. */
class MalformedList extends Error {}

async function readPage<T>(
  kube: Kube,
  at: { namespace: string | undefined; token: string | undefined; keep: (member: MemberObject) => T | undefined },
  request: Pick<ApiRequest, 'signal' | 'idleTimeoutMs'>,
): Promise<{ kept: T[]; next: string | undefined }> {
  const res = await kube.http.stream({
    method: 'GET',
    path: membersPath(at.namespace),
    query: { limit: PAGE_SIZE, continue: at.token },
    ...request,
  });
  const splitter = new ListSplitter();
  const kept: T[] = [];
  res.setEncoding('utf8');
  const take = (text: string): void => {
    const value = at.keep(member(text));
    if (value !== undefined) kept.push(value);
  };
  try {
    for await (const chunk of res) splitter.push(chunk as string).forEach(take);
  } finally {
    res.destroy();
  }
  return { kept, next: continueOf(splitter.end()) };
}

function member(text: string): MemberObject {
  let item: unknown;
  try {
    item = JSON.parse(text);
  } catch {
    throw new MalformedList('an item is not JSON');
  }
  if (typeof (item as MemberObject | undefined)?.metadata?.name !== 'string') throw new MalformedList('an item has no metadata.name');
  return item as MemberObject;
}

/** The list's continue token, read from what is left of it once its items are taken out. */
function continueOf(rest: string): string | undefined {
  let list: { items?: unknown; metadata?: { continue?: unknown } };
  try {
    list = JSON.parse(rest) as typeof list;
  } catch {
    throw new MalformedList('the answer is not a list');
  }
  if (list.items !== undefined && list.items !== null && !Array.isArray(list.items)) throw new MalformedList('the answer has no items');
  const token = list.metadata?.continue;
  return typeof token === 'string' && token !== '' ? token : undefined;
}
