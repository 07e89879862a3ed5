import { type Change, changedPaths } from '../present/diff.js';
import type { Kube } from './client.js';
import type { Operation } from './errors.js';

export type Outcome = 'created' | 'configured' | 'unchanged';

export interface Applied<T> {
  outcome: Outcome;
  /** What changed (in a dry run: would change) in the parts that `comparable` picks. */
  changes: Change[];
  object: T;
}

export interface ApplyRequest<T> {
  op: Operation;
  path: string;
  manifest: object;
  fieldManager: string;
  dryRun: boolean;
  /** The parts of the object that the manifest sets: their difference decides "configured" or "unchanged". */
  comparable: (object: T) => unknown;
}

/**
 * Server-side apply of one object. The object is read first, because an apply answers 200 whether or
 * not anything changed and "unchanged" is what makes a second run reassuring. Conflicts are forced:
 * running the command is the user's explicit intent, as with `kubectl apply --server-side --force-conflicts`.
 */
export async function serverSideApply<T>(kube: Kube, req: ApplyRequest<T>): Promise<Applied<T>> {
  const before = await kube.find<T>({ ...req.op, verb: 'get' }, req.path);
  const object = await kube.call<T>(req.op, {
    method: 'PATCH',
    path: req.path,
    query: { fieldManager: req.fieldManager, force: true, dryRun: req.dryRun ? 'All' : undefined },
    body: req.manifest,
    contentType: 'application/apply-patch+yaml',
  });
  const changes = changedPaths(before === undefined ? undefined : req.comparable(before), req.comparable(object));
  const outcome: Outcome = before === undefined ? 'created' : changes.length > 0 ? 'configured' : 'unchanged';
  return { outcome, changes, object };
}
