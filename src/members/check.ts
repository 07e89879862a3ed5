import type { Kube } from '../kube/client.js';
import { type Misfit, SchemaFit, type SchemaNode } from './fit.js';
import { forEachMemberPage } from './pages.js';

export interface MemberMisfits {
  namespace: string;
  name: string;
  misfits: Misfit[];
}

export interface CheckReport {
  checked: number;
  /** Members that do not fit, in the order listed. */
  misfits: MemberMisfits[];
}

/** Reads every Member (page by page, item by item) and judges it against `schema`; only the members that do not fit are kept. */
export async function checkMembers(kube: Kube, schema: SchemaNode, namespace: string | undefined): Promise<CheckReport> {
  const fit = new SchemaFit(schema);
  // Keyed by uid: a listing that starts over shows members again, and each counts once.
  const seen = new Set<string>();
  const misfits = new Map<string, MemberMisfits>();
  await forEachMemberPage(kube, namespace, {
    keep: (member) => {
      const key = member.metadata.uid ?? `${member.metadata.namespace ?? ''}/${member.metadata.name}`;
      const found = fit.misfits(member as unknown as Record<string, unknown>);
      return {
        key,
        misfit: found.length === 0 ? undefined : { namespace: member.metadata.namespace ?? '', name: member.metadata.name, misfits: found },
      };
    },
    onPage: (judged) => {
      for (const { key, misfit } of judged) {
        seen.add(key);
        if (misfit !== undefined) misfits.set(key, misfit);
      }
    },
  });
  return { checked: seen.size, misfits: [...misfits.values()] };
}
