import { type Applied, serverSideApply } from '../kube/apply.js';
import type { Kube } from '../kube/client.js';
import { FIELD_MANAGER, memberPath, type MemberObject, RESOURCE } from './resource.js';

/** Server-side apply of one Member; its labels and team decide whether anything changed. */
export async function applyMember(kube: Kube, manifest: MemberObject, dryRun: boolean): Promise<Applied<MemberObject>> {
  const namespace = manifest.metadata.namespace ?? kube.namespace;
  return serverSideApply<MemberObject>(kube, {
    op: { verb: 'patch', resource: RESOURCE, namespace },
    path: memberPath(namespace, manifest.metadata.name),
    manifest,
    fieldManager: FIELD_MANAGER,
    dryRun,
    comparable: (member) => ({ labels: member.metadata.labels, team: member.spec?.memberOf }),
  });
}
