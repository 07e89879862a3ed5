import type { Kube } from '../kube/client.js';
import { ApiError, type ApiRequest } from '../kube/http.js';
import { memberOp, membersPath, type MemberList, type MemberObject } from './resource.js';

const PAGE_SIZE = 500;

/**
 * Every Member (in one namespace, or all), `PAGE_SIZE` at a time, so that a large cluster is never held whole.
 * Each page is a quorum read. A continue token can expire (410) when etcd is compacted during a long listing:
 * then the listing starts over, as client-go's pager does, so `onPage` must not mind seeing a member twice.
 */
export async function forEachMemberPage(
  kube: Kube,
  namespace: string | undefined,
  onPage: (members: MemberObject[]) => Promise<void> | void,
  request: Pick<ApiRequest, 'signal' | 'idleTimeoutMs'> = {},
): Promise<void> {
  const op = memberOp('list', namespace);
  let token: string | undefined;
  for (;;) {
    let page: MemberList;
    try {
      page = await kube.http.json<MemberList>({
        method: 'GET',
        path: membersPath(namespace),
        query: { limit: PAGE_SIZE, continue: token },
        ...request,
      });
    } catch (err) {
      if (token === undefined || !(err instanceof ApiError && err.status === 410)) throw kube.explain(err, op);
      token = undefined;
      continue;
    }
    await onPage(page.items);
    token = page.metadata.continue || undefined;
    if (token === undefined) return;
  }
}
