import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Kube } from '../kube/client.js';
import type { Operation } from '../kube/errors.js';
import { ApiError } from '../kube/http.js';
import { pollUntil } from '../kube/poll.js';
import { type Applied, serverSideApply } from '../kube/apply.js';
import { packageRoot } from '../paths.js';
import type { Change } from '../kube/diff.js';
import type { SchemaNode } from './fit.js';
import { CRD_PATH, FIELD_MANAGER, membersPath, type MemberList } from './resource.js';

export const CRD_FILE = path.join(packageRoot, 'crds', 'member.yaml');
const CRD_RESOURCE = 'customresourcedefinitions.apiextensions.k8s.io';
// Server-side apply is a PATCH: RBAC knows no verb "apply", so a 403 must name "patch".
const APPLY: Operation = { verb: 'patch', resource: CRD_RESOURCE };
const GET: Operation = { verb: 'get', resource: CRD_RESOURCE };

interface CrdVersion {
  name: string;
  storage?: boolean;
  schema?: { openAPIV3Schema?: SchemaNode };
  selectableFields?: Array<{ jsonPath: string }>;
}

export interface Crd {
  metadata: {
    name: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
  spec: { preserveUnknownFields?: boolean; versions?: CrdVersion[] };
  status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
}

/** The manifest text as shipped: `--print` hands it on byte for byte. */
export async function readCrdManifest(): Promise<string> {
  return readFile(CRD_FILE, 'utf8');
}

export async function parseCrdManifest(text: string): Promise<Crd> {
  // Loaded when a cluster command needs it: --help and --print never parse YAML.
  const { default: yaml } = await import('js-yaml');
  return yaml.load(text) as Crd;
}

/** The schema objects are stored with: what every Member must fit. */
export function storageSchema(crd: Crd): SchemaNode | undefined {
  return crd.spec.versions?.find((v) => v.storage === true)?.schema?.openAPIV3Schema;
}

export async function getCrd(kube: Kube): Promise<Crd | undefined> {
  return kube.find<Crd>(GET, CRD_PATH);
}

/** An apply, and whether the CRD as the server keeps it makes spec.memberOf selectable. */
export interface AppliedCrd extends Applied<Crd> {
  selectable: boolean;
}

/**
 * Applies the manifest as shipped. A server before Kubernetes 1.30 knows no selectableFields and refuses the whole
 * apply over it ("field not declared in schema"): there the manifest is applied without them. A 1.30 server with
 * the feature off drops them: the CRD it keeps says which it was.
 */
export async function applyCrd(kube: Kube, manifest: Crd, dryRun: boolean): Promise<AppliedCrd> {
  let applied: Applied<Crd>;
  try {
    applied = await applyManifest(kube, manifest, dryRun);
  } catch (err) {
    if (!(err instanceof Error && err.message.includes('selectableFields'))) throw err;
    applied = await applyManifest(kube, withoutSelectableFields(manifest), dryRun);
  }
  const selectable = applied.object.spec.versions?.some((v) => (v.selectableFields?.length ?? 0) > 0) === true;
  return { ...applied, selectable };
}

function withoutSelectableFields(manifest: Crd): Crd {
  const versions = manifest.spec.versions?.map((version) => {
    const copy = { ...version };
    delete copy.selectableFields;
    return copy;
  });
  return { ...manifest, spec: { ...manifest.spec, versions } };
}

async function applyManifest(kube: Kube, manifest: Crd, dryRun: boolean): Promise<Applied<Crd>> {
  return serverSideApply<Crd>(kube, {
    op: APPLY,
    path: CRD_PATH,
    manifest,
    fieldManager: FIELD_MANAGER,
    dryRun,
    // Left out, preserveUnknownFields reads as false: so a change from true shows as true -> false.
    comparable: (crd) => ({
      labels: crd.metadata.labels,
      spec: { ...crd.spec, preserveUnknownFields: crd.spec.preserveUnknownFields ?? false },
    }),
  });
}

/** Whether an apply changes what stored Members must fit: the schema, or whether unknown fields are kept. */
export function changesWhatMembersMustFit(changes: Change[]): boolean {
  return changes.some((c) => c.path === 'spec.preserveUnknownFields' || /^spec\.versions\[\d+\]\.schema(\.|$)/.test(c.path));
}

/**
 * Whether reading Members through this CRD already drops the fields its schema does not know: the API server
 * prunes what it reads from etcd too, so such fields can no longer be seen through the API.
 */
export function prunesOnRead(crd: Crd): boolean {
  const schema = storageSchema(crd);
  return crd.spec.preserveUnknownFields !== true && schema !== undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true;
}

/** One time limit for every wait of a command, however many steps it takes. */
export class Deadline {
  private readonly end: number;

  constructor(readonly totalMs: number) {
    this.end = Date.now() + totalMs;
  }

  async poll(what: string, done: () => Promise<boolean>): Promise<void> {
    await pollUntil(what, done, Math.max(0, this.end - Date.now()), { limitMs: this.totalMs });
  }
}

/** Established and NamesAccepted are not enough on their own: discovery can lag, so also list members once. */
export async function isServed(kube: Kube, crd: Crd | undefined): Promise<boolean> {
  return established(crd) && (await servesMembers(kube));
}

/** Waits until the CRD is served, telling `onStep` what it waits for. */
export async function waitForCrd(kube: Kube, deadline: Deadline, onStep: (step: string) => void): Promise<void> {
  onStep('waiting for the CRD to be established');
  await deadline.poll('the Member CRD to be Established and NamesAccepted', async () => established(await getCrd(kube)));
  onStep('waiting for the API server to serve members');
  await deadline.poll('the API server to serve members', () => servesMembers(kube));
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

/** Asks for the deletion; a CRD already gone is what was asked for. */
export async function deleteCrd(kube: Kube): Promise<void> {
  try {
    await kube.http.json({ method: 'DELETE', path: CRD_PATH });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return;
    throw kube.explain(err, { verb: 'delete', resource: CRD_RESOURCE });
  }
}

/** Waits until no CRD of that name exists; `meanwhile` runs at every check while it still does. */
export async function waitUntilDeleted(kube: Kube, deadline: Deadline, meanwhile?: () => Promise<void>): Promise<void> {
  await deadline.poll('the Member CRD to be deleted', async () => {
    if ((await getCrd(kube)) === undefined) return true;
    await meanwhile?.();
    return false;
  });
}
