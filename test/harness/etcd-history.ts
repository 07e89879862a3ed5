import type { ChildProcess } from 'node:child_process';
import type { ControlPlane } from './control-plane.js';
import type { TruthChange } from './watch-checker.js';

/** Where kube-apiserver keeps Members: /registry/GROUP/RESOURCE/NAMESPACE/NAME. */
const PREFIX = '/registry/helloworld.apimeister.com/members/';

interface EtcdEvent {
  /** 1 for a delete; absent for a put. */
  type?: number;
  kv: { key: string; mod_revision: number; value?: string };
}

interface EtcdResponse {
  Events?: EtcdEvent[];
  Canceled?: boolean;
  CompactRevision?: number;
}

interface StoredMember {
  metadata?: { uid?: string; generation?: number; deletionTimestamp?: string; finalizers?: unknown };
  spec?: { memberOf?: unknown };
  status?: { announcedTeam?: unknown; announcedAt?: unknown; observedGeneration?: unknown };
}

/** What else etcd stored of a member: what an operator wrote on it (finalizers, status) and whether it is being deleted. */
export interface StoredState {
  generation: number;
  deleting: boolean;
  finalizers: readonly string[];
  announcedTeam: string | null;
  announcedAt: string | null;
  observedGeneration: number | null;
}

/** A change with the rest of what etcd stored (for a delete: what it held last), and when the history saw it. */
export interface StoredChange extends TruthChange {
  stored: StoredState;
  /** Date.now() when the change arrived here: a little after it committed. */
  seenAt: number;
}

/**
 * The ground truth: every change etcd stores under the Members prefix, read with `etcdctl watch` from a
 * revision taken before the test makes any. etcd's revision is the API's resourceVersion, so each change can be
 * matched with what a watcher printed. It observes etcd itself, below kube-apiserver, so it sees every write that
 * committed, including those whose API request died with a killed kube-apiserver.
 * Compacting etcd must not overtake it (`compactBehind()`): a watch behind a compaction is cancelled.
 */
export class EtcdHistory {
  readonly changes: StoredChange[] = [];
  private readonly current = new Map<string, { uid: string; team: string | null; stored: StoredState }>();
  private readonly waiters = new Set<() => void>();
  private partial = '';
  private failure: Error | undefined;
  private stopping = false;
  private errors = '';

  private constructor(
    private readonly cp: ControlPlane,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.push(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.errors += chunk;
    });
    child.once('exit', (code, sig) => {
      if (!this.stopping) this.fail(new Error(`etcdctl watch exited (${String(code ?? sig)}): ${this.errors}`));
    });
  }

  /** Starts observing at the next revision: call it before the changes it must see. */
  static async start(cp: ControlPlane): Promise<EtcdHistory> {
    const from = (await cp.etcdRevision()) + 1;
    const child = cp.spawnEtcdctl(['watch', '--prefix', PREFIX, `--rev=${from}`, '-w', 'json']);
    return new EtcdHistory(cp, child);
  }

  /** The last revision observed. */
  get revision(): number {
    return this.changes.at(-1)?.revision ?? 0;
  }

  /** Resolves once `done()` holds (checked as changes arrive); rejects if the observer failed or after the timeout. */
  waitFor(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (this.failure) finish(this.failure);
        else if (done()) finish();
      };
      const timer = setTimeout(() => finish(new Error(`the etcd history did not show ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Compacts etcd up to what this history has already seen, never beyond (which would cancel it). */
  async compactBehind(): Promise<number> {
    this.assertHealthy();
    const revision = this.revision;
    await this.cp.compact(revision);
    return revision;
  }

  assertHealthy(): void {
    if (this.failure) throw this.failure;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    if (this.child.pid !== undefined) process.kill(this.child.pid, 'SIGTERM');
    await exited;
  }

  private push(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    try {
      for (const line of lines) if (line.trim() !== '') this.take(JSON.parse(line) as EtcdResponse);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
    for (const check of [...this.waiters]) check();
  }

  private take(response: EtcdResponse): void {
    if (response.Canceled || (response.CompactRevision ?? 0) > 0) {
      throw new Error(`the etcd watch was cancelled (compacted at ${response.CompactRevision ?? '?'}): the truth is incomplete`);
    }
    for (const event of response.Events ?? []) this.changes.push(this.toChange(event));
  }

  private toChange(event: EtcdEvent): StoredChange {
    const key = Buffer.from(event.kv.key, 'base64').toString('utf8');
    const [namespace = '', name = ''] = key.slice(PREFIX.length).split('/');
    const revision = event.kv.mod_revision;
    const seenAt = Date.now();
    if (event.type === 1) {
      const was = this.current.get(key);
      if (was === undefined) throw new Error(`etcd deleted ${key} at ${revision}, which it never stored while observed`);
      this.current.delete(key);
      return { revision, kind: 'delete', namespace, name, ...was, seenAt };
    }
    const stored = JSON.parse(Buffer.from(event.kv.value ?? '', 'base64').toString('utf8')) as StoredMember;
    const now = { uid: stored.metadata?.uid ?? '', team: textOrNull(stored.spec?.memberOf), stored: storedState(stored) };
    this.current.set(key, now);
    return { revision, kind: 'put', namespace, name, ...now, seenAt };
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const check of [...this.waiters]) check();
  }
}

/** The watcher treats an empty team, or one that is not a string (schemaless CRDs allow it), as none. */
function textOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function storedState(stored: StoredMember): StoredState {
  const { metadata = {}, status = {} } = stored;
  const finalizers = Array.isArray(metadata.finalizers) ? metadata.finalizers.filter((f): f is string => typeof f === 'string') : [];
  return {
    generation: metadata.generation ?? 0,
    deleting: typeof metadata.deletionTimestamp === 'string',
    finalizers,
    announcedTeam: textOrNull(status.announcedTeam),
    announcedAt: typeof status.announcedAt === 'string' ? status.announcedAt : null,
    observedGeneration: typeof status.observedGeneration === 'number' ? status.observedGeneration : null,
  };
}
