import { CliError, ExitCode } from '../errors.js';
import type { Kube } from '../kube/client.js';
import { API_VERSION, PLURAL } from '../members/resource.js';

interface ResourceList {
  resources?: Array<{ name?: string }>;
}

/**
 * The operator records what it announced in each member's status: a Member CRD from before the status subresource
 * (the original operator's) cannot hold it. Asked of discovery, which every authenticated user may read, so the
 * operator needs no right on CRDs. A discovery that cannot be read proves nothing: the status writes will say it.
 */
export async function requireStatusSubresource(kube: Kube): Promise<void> {
  let list: ResourceList;
  try {
    list = await kube.http.json<ResourceList>({ method: 'GET', path: `/apis/${API_VERSION}` });
  } catch {
    return;
  }
  if ((list.resources ?? []).some((r) => r.name === `${PLURAL}/status`)) return;
  throw new CliError(ExitCode.CrdMissing, 'the Member CRD has no status subresource, where the operator records what it announced', {
    hint: 'upgrade it with `member-watch install-crd` (`--dry-run` shows the change first)',
  });
}
