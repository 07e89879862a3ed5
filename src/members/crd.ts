import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import type { Kube } from '../kube/client.js';
import type { Operation } from '../kube/errors.js';
import { crdMissing } from '../kube/errors.js';
import { pollUntil } from '../kube/poll.js';
import { type Applied, serverSideApply } from '../kube/apply.js';
import { packageRoot } from '../paths.js';
import { CRD_PATH, FIELD_MANAGER, membersPath, type MemberList } from './resource.js';

export const CRD_FILE = path.join(packageRoot, 'crds', 'member.yaml');
const CRD_RESOURCE = 'customresourcedefinitions.apiextensions.k8s.io';
const APPLY: Operation = { verb: 'apply', resource: CRD_RESOURCE };
const GET: Operation = { verb: 'get', resource: CRD_RESOURCE };

interface Crd {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
  status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
}

/** The manifest text as shipped: `--print` hands it on byte for byte. */
export async function readCrdManifest(): Promise<string> {
  return readFile(CRD_FILE, 'utf8');
}

export async function applyCrd(kube: Kube, manifestText: string, dryRun: boolean): Promise<Applied<Crd>> {
  return serverSideApply<Crd>(kube, {
    op: APPLY,
    path: CRD_PATH,
    manifest: yaml.load(manifestText) as object,
    fieldManager: FIELD_MANAGER,
    dryRun,
    comparable: (crd) => ({ labels: crd.metadata.labels, spec: crd.spec }),
  });
}

/** Established and NamesAccepted are not enough on their own: discovery can lag, so also list members once. */
export async function waitForCrd(kube: Kube, timeoutMs: number, onStep: (step: string) => void): Promise<void> {
  onStep('waiting for the CRD to be established');
  await pollUntil(
    'the Member CRD to be Established and NamesAccepted',
    async () => established(await kube.find<Crd>(GET, CRD_PATH)),
    timeoutMs,
  );
  onStep('waiting for the API server to serve members');
  await pollUntil('the API server to serve members', () => servesMembers(kube), timeoutMs);
}

function established(crd: Crd | undefined): boolean {
  const conditions = crd?.status?.conditions ?? [];
  const isTrue = (type: string): boolean => conditions.some((c) => c.type === type && c.status === 'True');
  return isTrue('Established') && isTrue('NamesAccepted');
}

async function servesMembers(kube: Kube): Promise<boolean> {
  try {
    await kube.call<MemberList>(
      { verb: 'list', resource: 'members' },
      { method: 'GET', path: membersPath(kube.namespace), query: { limit: 1 } },
    );
    return true;
  } catch {
    return false;
  }
}

export async function deleteCrd(kube: Kube, timeoutMs: number, wait: boolean): Promise<void> {
  const gone = async (): Promise<boolean> => (await kube.find<Crd>(GET, CRD_PATH)) === undefined;
  if (await gone()) throw crdMissing();
  await kube.call({ verb: 'delete', resource: CRD_RESOURCE }, { method: 'DELETE', path: CRD_PATH });
  if (wait) await pollUntil('the Member CRD to be deleted', gone, timeoutMs);
}
