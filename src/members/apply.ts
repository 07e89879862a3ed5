import { CliError, ExitCode } from '../errors.js';
import { type WriteFailure, writeFailure } from '../kube/apply.js';
import type { Kube } from '../kube/client.js';
import { crdMissing, crdTerminating, type Operation } from '../kube/errors.js';
import { ApiError, type ApiRequest } from '../kube/http.js';
import type { Crd } from './crd.js';
import { heldBy } from './names.js';
import { type MemberDraft, memberManifest } from './manifest.js';
import { CRD_PATH, FIELD_MANAGER, MEMBER_CRD, memberOp, memberPath, membersPath, type MemberObject } from './resource.js';
import { memberShapeProblem, notAMember } from './validate.js';

export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

export type ApplyResult = { ok: true; outcome: ApplyOutcome; object: MemberObject } | ({ ok: false } & WriteFailure);

export interface ApplyRequest {
  draft: MemberDraft;
  namespace: string;
  dryRun: boolean;
  /** Cuts the requests off (the command's time limit, a signal): the change may or may not have happened. */
  cutOff: AbortSignal;
}

// A member that changes between each read and write this many times in a row is given up on.
const ATTEMPTS = 5;

/**
 * Makes the member's team and labels exactly what the draft says, whoever set them before: without a team it has
 * no team, and only the labels given. Server-side apply cannot promise that: it removes a field only when the
 * applier owned it alone, and fields written by `kubectl create`, `kubectl apply` (client-side) or an update
 * before the first apply belong to other managers (`before-first-apply`...), so they would stay.
 *
 * So the member is read, then created (POST, refused if someone created it meanwhile) or changed with one JSON
 * merge patch carrying the resourceVersion that was read (refused with 409 if anyone wrote in between): a
 * concurrent writer is never overwritten unseen, and the member is read again and the change recomputed.
 * A member that already is as asked is not written at all: "unchanged".
 */
export async function applyMember(kube: Kube, req: ApplyRequest): Promise<ApplyResult> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let current: MemberObject | undefined;
    try {
      current = await read(kube, req);
    } catch (err) {
      // A member being deleted is its own affair; a failed read changed nothing.
      if (err instanceof CliError)
        return { ok: false, error: err, mayHaveChanged: false, aboutTheObject: err.exitCode === ExitCode.Cluster };
      return { ok: false, ...writeFailure(kube.explain(err, op('get', req)), err), mayHaveChanged: false };
    }
    const write = current === undefined ? creation(req) : update(current, req);
    if (write === undefined) return { ok: true, outcome: 'unchanged', object: current as MemberObject };
    const result = await send(kube, write, req);
    if (result !== 'conflict') return result;
  }
  const error = new CliError(ExitCode.Cluster, `member ${req.draft.name} kept changing while it was applied (${ATTEMPTS} attempts)`, {
    hint: 'something else is writing it at the same time; run again',
  });
  return { ok: false, error, mayHaveChanged: false, aboutTheObject: true };
}

function op(verb: string, req: ApplyRequest): Operation {
  return memberOp(verb, req.namespace);
}

async function read(kube: Kube, req: ApplyRequest): Promise<MemberObject | undefined> {
  const { name } = req.draft;
  let member: MemberObject;
  try {
    member = await kube.http.json<MemberObject>({ method: 'GET', path: memberPath(req.namespace, name), signal: req.cutOff });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return undefined;
    throw err;
  }
  const problem = memberShapeProblem(member, name, req.namespace);
  if (problem !== undefined) throw notAMember('read', name, problem);
  if (member.metadata.deletionTimestamp !== undefined) throw beingDeleted(member);
  return member;
}

function beingDeleted(member: MemberObject): CliError {
  const held = heldBy(member.metadata.finalizers ?? []);
  return new CliError(ExitCode.Cluster, `member ${member.metadata.name} is being deleted${held}: it can be applied again once it is gone`, {
    hint: `wait for it with \`member-watch delete-member ${member.metadata.name} --wait\``,
  });
}

interface Write {
  outcome: 'created' | 'configured';
  verb: 'create' | 'patch';
  request: ApiRequest;
}

function creation(req: ApplyRequest): Write {
  return {
    outcome: 'created',
    verb: 'create',
    request: { method: 'POST', path: membersPath(req.namespace), body: memberManifest(req.draft, req.namespace) },
  };
}

function update(current: MemberObject, req: ApplyRequest): Write | undefined {
  const labels = labelsPatch(current.metadata.labels ?? {}, req.draft.labels ?? {});
  const teamChanges = (current.spec?.memberOf ?? undefined) !== req.draft.team;
  if (labels === undefined && !teamChanges) return undefined;
  // The resourceVersion makes the patch a compare-and-swap: refused (409) if the member changed since it was read.
  const metadata: Record<string, unknown> = { resourceVersion: current.metadata.resourceVersion };
  if (labels !== undefined) metadata.labels = labels;
  const body: Record<string, unknown> = { metadata };
  if (teamChanges) body.spec = { memberOf: req.draft.team ?? null };
  return {
    outcome: 'configured',
    verb: 'patch',
    request: { method: 'PATCH', path: memberPath(req.namespace, req.draft.name), body, contentType: 'application/merge-patch+json' },
  };
}

/** The merge patch that turns the member's labels into exactly `wanted` (null removes a label, or all of them). */
function labelsPatch(current: Record<string, string>, wanted: Record<string, string>): Record<string, string | null> | null | undefined {
  const patch: Record<string, string | null> = {};
  for (const key of new Set([...Object.keys(current), ...Object.keys(wanted)])) {
    if (current[key] !== wanted[key]) patch[key] = wanted[key] ?? null;
  }
  if (Object.keys(patch).length === 0) return undefined;
  return Object.keys(wanted).length === 0 ? null : patch;
}

async function send(kube: Kube, write: Write, req: ApplyRequest): Promise<ApplyResult | 'conflict'> {
  let answer: unknown;
  try {
    answer = await kube.http.json<unknown>({
      ...write.request,
      query: { fieldManager: FIELD_MANAGER, dryRun: req.dryRun ? 'All' : undefined },
      signal: req.cutOff,
    });
  } catch (err) {
    // 409: created or changed by someone else since it was read (AlreadyExists, Conflict): read again.
    if (err instanceof ApiError && err.status === 409) return 'conflict';
    const error = kube.explain(err, op(write.verb, req));
    return { ok: false, ...writeFailure(error, err, req.cutOff) };
  }
  const problem = memberShapeProblem(answer, req.draft.name, req.namespace);
  if (problem !== undefined) {
    return { ok: false, error: notAMember(write.verb, req.draft.name, problem), mayHaveChanged: true, aboutTheObject: false };
  }
  return { ok: true, outcome: write.outcome, object: answer as MemberObject };
}

/**
 * Refuses to write into a CRD that is missing or being deleted, before any member is written. A user who may not
 * read CRDs (the least-privilege Role of docs/rbac.md) is not refused here: the API server's answers say it then.
 */
export async function checkCrdTakesMembers(kube: Kube, cutOff: AbortSignal): Promise<void> {
  let crd: Partial<Crd>;
  try {
    crd = await kube.http.json<Partial<Crd>>({ method: 'GET', path: CRD_PATH, signal: cutOff });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw crdMissing(MEMBER_CRD, err);
    if (err instanceof ApiError && (err.status === 403 || err.status === 401)) return;
    throw kube.explain(err, { verb: 'get', resource: 'customresourcedefinitions.apiextensions.k8s.io' });
  }
  if (crd.metadata?.deletionTimestamp !== undefined) throw crdTerminating(MEMBER_CRD, crd.metadata.deletionTimestamp);
}
