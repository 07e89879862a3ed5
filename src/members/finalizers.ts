import { CliError, ExitCode } from '../errors.js';
import type { Kube } from '../kube/client.js';
import { ApiError } from '../kube/http.js';
import type { Operation } from '../kube/errors.js';
import { mapLimit } from '../kube/parallel.js';
import { forEachMemberPage } from './pages.js';
import { FINALIZER, memberOp, memberPath, type MemberObject } from './resource.js';

export interface MemberRef {
  namespace: string;
  name: string;
}

export interface Holder extends MemberRef {
  finalizers: string[];
  /** It has a deletionTimestamp. */
  deleting: boolean;
}

export interface ReleaseReport {
  /** Members that held the finalizer and no longer do because of this call. */
  released: number;
  /** Members that held it when listed but were gone, or had lost it to someone else, before the patch. */
  skipped: number;
  /** Members the API server would not let go of (for example an update its schema refuses), with its message. */
  failed: Array<MemberRef & { message: string }>;
}

export interface ReleaseOptions {
  /** One namespace; every namespace when undefined. */
  namespace?: string | undefined;
  /** Told about each member as its finalizer is removed, so that every change can be reported as it happens. */
  onReleased?: (member: MemberRef) => void;
  /** Only these of the members that hold it (default: all). */
  select?: (member: Holder) => boolean;
}

const CONCURRENCY = 8;
const MAX_ATTEMPTS = 5;

/**
 * Removes the operator's finalizer (and only it) from every Member that holds it, page by page. Each removal
 * is a JSON patch that first tests that the finalizer is still at the index read, so that a finalizer added or
 * removed meanwhile by someone else is never taken by mistake; a failed test re-reads the member and tries again.
 * Without the CRD there is nothing to release. An error that is not about one member (403, the API server gone)
 * is thrown at once; `onReleased` has heard of every removal made before it.
 */
export async function releaseFinalizers(kube: Kube, options: ReleaseOptions = {}): Promise<ReleaseReport> {
  const report: ReleaseReport = { released: 0, skipped: 0, failed: [] };
  await forEachHolderPage(kube, options.namespace, async (holders) => {
    const holding = holders.filter((h) => h.finalizers.includes(FINALIZER) && (options.select?.(h) ?? true));
    // After an error, no new patch starts, and the ones under way are counted before it is thrown.
    let fatal: { error: unknown } | undefined;
    const stop = new AbortController();
    await mapLimit(
      holding,
      CONCURRENCY,
      async (member) => {
        try {
          tally(report, options, member, await releaseOne(kube, member));
        } catch (error) {
          fatal ??= { error };
          stop.abort();
        }
      },
      stop.signal,
    );
    if (fatal !== undefined) throw fatal.error;
  });
  return report;
}

function tally(report: ReleaseReport, options: ReleaseOptions, member: Holder, outcome: Outcome): void {
  const ref = { namespace: member.namespace, name: member.name };
  if (outcome === 'released') {
    report.released += 1;
    options.onReleased?.(ref);
  } else if (outcome === 'skipped') {
    report.skipped += 1;
  } else {
    report.failed.push({ ...ref, message: outcome.message });
  }
}

/**
 * The members that hold any finalizer, page by page (only what a release needs is kept of each); none when the CRD
 * is gone (as it goes at the end of its own deletion): nothing holds.
 */
async function forEachHolderPage(
  kube: Kube,
  namespace: string | undefined,
  onPage: (holders: Holder[]) => Promise<void> | void,
): Promise<void> {
  const keep = ({ metadata }: MemberObject): Holder | undefined => {
    const finalizers = metadata.finalizers ?? [];
    if (finalizers.length === 0) return undefined;
    return { namespace: metadata.namespace ?? '', name: metadata.name, finalizers, deleting: metadata.deletionTimestamp !== undefined };
  };
  try {
    await forEachMemberPage(kube, namespace, { keep, onPage });
  } catch (err) {
    if (!(err instanceof CliError && err.exitCode === ExitCode.CrdMissing)) throw err;
  }
}

type Outcome = 'released' | 'skipped' | { message: string };

interface Target {
  kube: Kube;
  path: string;
  op: Operation;
}

async function releaseOne(kube: Kube, listed: Holder): Promise<Outcome> {
  const target = { kube, path: memberPath(listed.namespace, listed.name), op: memberOp('patch', listed.namespace) };
  let finalizers = listed.finalizers;
  for (let attempt = 1; ; attempt++) {
    const patch = removalPatch(finalizers);
    if (patch.length === 0) return 'skipped';
    try {
      await kube.http.json({ method: 'PATCH', path: target.path, body: patch, contentType: 'application/json-patch+json' });
      return 'released';
    } catch (err) {
      const next = await afterRefusal(target, err, attempt === MAX_ATTEMPTS, finalizers);
      if (!Array.isArray(next)) return next;
      finalizers = next;
    }
  }
}

/** After a refused patch: the member's finalizers to try again with, or how it ended. */
async function afterRefusal(target: Target, err: unknown, last: boolean, tried: string[]): Promise<string[] | Outcome> {
  if (err instanceof ApiError && err.status === 404) return 'skipped';
  // 422 is a failed test (the finalizers moved) or an update the API server refuses; 409 a conflict.
  if (!(err instanceof ApiError && (err.status === 409 || err.status === 422)) || last) throw target.kube.explain(err, target.op);
  const current = await target.kube.find<MemberObject>({ ...target.op, verb: 'get' }, target.path);
  if (current === undefined) return 'skipped';
  const now = current.metadata.finalizers ?? [];
  // The same finalizers as before: the test held, so the API server refused the update itself.
  return sameList(now, tried) ? { message: err.message } : now;
}

/** Test-and-remove for each place the finalizer appears, from the last, so that earlier indexes stay right. */
function removalPatch(finalizers: string[]): object[] {
  const indexes = finalizers.flatMap((f, i) => (f === FINALIZER ? [i] : [])).reverse();
  return indexes.flatMap((i) => [
    { op: 'test', path: `/metadata/finalizers/${i}`, value: FINALIZER },
    { op: 'remove', path: `/metadata/finalizers/${i}` },
  ]);
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Members that hold any finalizer: what keeps them, and a CRD being deleted with them, from going away. */
export async function finalizerHolders(kube: Kube, namespace?: string): Promise<Holder[]> {
  // Keyed by namespace and name: a listing that starts over shows members again.
  const holders = new Map<string, Holder>();
  await forEachHolderPage(kube, namespace, (page) => {
    for (const holder of page) holders.set(`${holder.namespace}/${holder.name}`, holder);
  });
  return [...holders.values()];
}

/** Between two looks at the members, while their deletion is waited for. */
const MARKED_POLL_MS = 200;

/**
 * Lets go of the members of a CRD being deleted, for uninstall-crd. The finalizer is removed only from members
 * being deleted: a running operator would add it back to any other (and the count of removals would lie). Each
 * is given `graceMs` from when it was first seen being deleted, for a running operator to say its goodbye and
 * remove the finalizer itself; members let go that way are counted apart.
 */
export class DeletionRelease {
  private readonly firstSeen = new Map<string, number>();
  private readonly ours = new Set<string>();
  /** Every member seen holding the finalizer, from before the CRD's deletion on. */
  private readonly held = new Set<string>();
  private holding = new Set<string>();
  private unmarked = 0;

  constructor(
    private readonly kube: Kube,
    private readonly graceMs: number,
  ) {}

  /** Members seen holding the finalizer that lost it to someone else (a running operator's goodbye). */
  get letGoByOthers(): number {
    return [...this.held].filter((key) => !this.ours.has(key) && !this.holding.has(key)).length;
  }

  /** Call before the CRD is deleted: which members hold the finalizer, to count them at the end. */
  async before(): Promise<void> {
    await this.look();
  }

  /**
   * Waits (up to `limitMs`) until the API server has marked every member that holds the finalizer as being
   * deleted: it does so right after the CRD's deletion, and only then can the finalizer go without coming back.
   */
  async untilMarked(limitMs: number): Promise<void> {
    const end = Date.now() + limitMs;
    do {
      await this.look();
      if (this.unmarked === 0) return;
      await new Promise((r) => setTimeout(r, MARKED_POLL_MS));
    } while (Date.now() < end);
  }

  /** One pass: removes the finalizer from the members due; `onReleased` hears of each. */
  async release(onReleased: (member: MemberRef) => void): Promise<ReleaseReport> {
    const now = Date.now();
    const report = await releaseFinalizers(this.kube, {
      onReleased: (member) => {
        this.ours.add(keyOf(member));
        onReleased(member);
      },
      select: (member) => this.due(member, now),
    });
    await this.look();
    return report;
  }

  private due(member: Holder, now: number): boolean {
    if (!member.deleting) return false;
    const key = keyOf(member);
    const seen = this.firstSeen.get(key) ?? now;
    this.firstSeen.set(key, seen);
    return now - seen >= this.graceMs;
  }

  /** Which members hold the finalizer now, and how many of them are not yet being deleted. */
  private async look(): Promise<void> {
    const holding = new Set<string>();
    let unmarked = 0;
    await forEachHolderPage(this.kube, undefined, (page) => {
      for (const holder of page) {
        if (!holder.finalizers.includes(FINALIZER)) continue;
        const key = keyOf(holder);
        holding.add(key);
        this.held.add(key);
        if (!holder.deleting) unmarked += 1;
        else if (!this.firstSeen.has(key)) this.firstSeen.set(key, Date.now());
      }
    });
    this.holding = holding;
    this.unmarked = unmarked;
  }
}

function keyOf(member: MemberRef): string {
  return `${member.namespace}/${member.name}`;
}
