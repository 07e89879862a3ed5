import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { RunningCli } from '../harness/cli.js';
import { GROUP, type TestEnv, waitFor } from './support.js';

export const FINALIZER = `${GROUP}/farewell`;
export const ANNOUNCEMENTS = new Set(['Welcomed', 'Moved', 'Farewell']);
/**
 * Short durations so that failovers fit the test budget: lease 4 s, renew deadline 3 s, retry 0.5 s. Not shorter:
 * on a loaded machine a renewal may take a second or two, and a leader that misses its deadline steps down.
 */
export const FAST_LEASE_MS = 4_000;
export const FAST_RENEW_MS = 3_000;
export const FAST_RETRY_MS = 500;
export const FAST_ELECTION = [
  '--leader-elect-lease-duration',
  `${FAST_LEASE_MS}ms`,
  '--leader-elect-renew-deadline',
  `${FAST_RENEW_MS}ms`,
  '--leader-elect-retry-period',
  `${FAST_RETRY_MS}ms`,
];

/** One line of `operator --log-format json`. */
export interface LogEntry {
  time: string;
  level: string;
  msg: string;
  namespace: string | null;
  name: string | null;
  uid: string | null;
  team: string | null;
  previousTeam: string | null;
  event: string;
  [extra: string]: unknown;
}

export interface Operator {
  readonly cli: RunningCli;
  /** Every JSON line so far. */
  entries(): LogEntry[];
  /** Welcomes, moves and goodbyes so far, as `event name team`. */
  announcements(namespace?: string): string[];
  /** Waits until `count` lines (default 1, counted from the start) match; resolves with the last of them. */
  waitFor(pred: (entry: LogEntry) => boolean, opts?: { count?: number; timeoutMs?: number }): Promise<LogEntry>;
  identity(): string;
}

export function parseEntry(line: string): LogEntry {
  try {
    return JSON.parse(line) as LogEntry;
  } catch {
    throw new Error(`not a JSON log line: ${line}`);
  }
}

/** Starts `member-watch operator --log-format json` with probes and metrics off unless asked for. */
export function startOperator(env: TestEnv, args: string[], opts: { kubeconfig?: string; env?: Record<string, string> } = {}): Operator {
  const withDefaults = [...args];
  if (!args.includes('--metrics-bind-address')) withDefaults.push('--metrics-bind-address', '0');
  if (!args.includes('--health-probe-bind-address')) withDefaults.push('--health-probe-bind-address', '0');
  const cli = env.spawn(['operator', '--log-format', 'json', ...withDefaults], opts);
  const entries = (): LogEntry[] => cli.lines.filter((l) => l !== '').map(parseEntry);
  return {
    cli,
    entries,
    announcements: (namespace) =>
      entries()
        .filter((e) => ANNOUNCEMENTS.has(e.event) && (namespace === undefined || e.namespace === namespace))
        .map(short),
    waitFor: (pred, opts = {}) => waitForEntry(cli, entries, pred, opts),
    identity: () => String(entries().find((e) => e.event === 'Starting')?.identity),
  };
}

async function waitForEntry(
  cli: RunningCli,
  entries: () => LogEntry[],
  pred: (entry: LogEntry) => boolean,
  { count = 1, timeoutMs = 30_000 }: { count?: number; timeoutMs?: number },
): Promise<LogEntry> {
  let exited = false;
  void cli.done.finally(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const matches = entries().filter(pred);
    if (matches.length >= count) return matches[count - 1] as LogEntry;
    if (exited || Date.now() > deadline) {
      const why = exited
        ? `the operator exited (${String(cli.child.exitCode)}, ${String(cli.child.signalCode)})`
        : `no match after ${timeoutMs} ms`;
      throw new Error(`${why}; ${matches.length} of ${count} lines matched\nstdout:\n${cli.lines.join('\n')}\nstderr:\n${cli.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function short(e: LogEntry): string {
  return [e.event, e.name, e.team].filter((x) => x !== null && x !== undefined).join(' ');
}

export const announced = (event: string, name: string) => (e: LogEntry) => e.event === event && e.name === name;

/** Stops an operator with SIGTERM and checks that it stopped cleanly. */
export async function stopOperator(op: Operator): Promise<void> {
  op.cli.kill('SIGTERM');
  const result = await op.cli.done;
  assert.equal(result.code, 0, `exit code ${String(result.code)} (${String(result.signal)}); stderr:\n${result.stderr}`);
  assert.equal(op.entries().at(-1)?.event, 'Stopped');
}

/** Kills what is left of several operators, whatever their state: for `finally` blocks. */
export async function killAll(ops: Operator[]): Promise<void> {
  for (const op of ops) op.cli.kill('SIGKILL');
  await Promise.all(ops.map((op) => op.cli.done.catch(() => undefined)));
}

export interface MemberWithStatus {
  metadata: { name: string; uid: string; generation?: number; finalizers?: string[]; deletionTimestamp?: string };
  spec?: { memberOf?: string };
  status?: { announcedTeam?: string; announcedAt?: string; observedGeneration?: number };
}

export async function memberStatus(env: TestEnv, namespace: string, name: string): Promise<MemberWithStatus | undefined> {
  return (await env.getMember(namespace, name)) as MemberWithStatus | undefined;
}

export interface KubeEvent {
  metadata: { name: string };
  involvedObject: { kind?: string; name?: string; uid?: string; apiVersion?: string };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  source?: { component?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

export async function kubeEvents(env: TestEnv, namespace: string): Promise<KubeEvent[]> {
  const list = await env.cluster.core.listNamespacedEvent({ namespace });
  return list.items as unknown as KubeEvent[];
}

/** Waits until the Events of the namespace are these, as `reason message xcount`, in any order. */
export async function waitForEvents(env: TestEnv, namespace: string, expected: string[]): Promise<KubeEvent[]> {
  const want = [...expected].sort();
  let last: string[] = [];
  try {
    return await waitFor(`Events ${want.join(', ')}`, async () => {
      const events = await kubeEvents(env, namespace);
      last = events.map((e) => `${e.reason ?? ''} ${e.message ?? ''} x${e.count ?? 0}`).sort();
      return JSON.stringify(last) === JSON.stringify(want) ? events : undefined;
    });
  } catch (err) {
    assert.deepEqual(last, want, String(err));
    throw err;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/**
 * The samples of a Prometheus text exposition (format 0.0.4), keyed `name{label="value",...}` with labels
 * sorted; throws on any line that is not a comment, a blank or a well-formed sample.
 */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:[0-9.]+(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))(?: -?\d+)?$/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = sample.exec(line);
    assert.ok(match, `not a Prometheus sample: ${line}`);
    const [, name, labels = '', value] = match;
    const pairs = [...labels.matchAll(label)].map(([, k, v]) => `${k}="${v}"`).sort();
    samples.set(pairs.length === 0 ? String(name) : `${name}{${pairs.join(',')}}`, Number(value));
  }
  return samples;
}

/** Each name at most once per kind of announcement, over the logs of every replica. */
export function assertNoRepeats(ops: Operator[], namespace: string): string[] {
  const all = ops.flatMap((op) => op.announcements(namespace));
  const repeated = all.filter((a, i) => all.indexOf(a) !== i);
  assert.deepEqual(repeated, [], `announced twice: ${repeated.join(', ')}\nall: ${all.join(', ')}`);
  return all;
}
