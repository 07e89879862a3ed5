// Timing and process helpers shared by every measurement.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit } from '../test/harness/control-plane.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(REPO_ROOT, 'bin', 'member-watch.js');
export const KUBECTL = '/usr/bin/kubectl';
export const TIME_BIN = '/usr/bin/time';

/** The environment every child gets: no developer kubeconfig or colour settings leak in. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['KUBECONFIG', 'NO_COLOR', 'FORCE_COLOR']) delete env[key];
  return env;
}

export function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** A command to spawn: the executable, its arguments, and variables added to childEnv(). */
export interface Cmd {
  file: string;
  args: string[];
  env?: Record<string, string>;
}

export function cli(args: string[]): Cmd {
  return { file: process.execPath, args: [CLI, ...args] };
}

function start(cmd: Cmd, stdout: 'pipe' | 'ignore'): ChildProcess {
  const child = spawn(cmd.file, cmd.args, { env: { ...childEnv(), ...cmd.env }, stdio: ['ignore', stdout, 'pipe'] });
  killOnExit(child);
  return child;
}

function collectStderr(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    text = (text + chunk).slice(-4000);
  });
  return () => text;
}

function describe(cmd: Cmd): string {
  return [cmd.file, ...cmd.args].join(' ');
}

/** Wall time (ms) of a whole process, from spawn to exit; it must exit 0. */
export function timeProcess(cmd: Cmd, timeoutMs = 600_000): Promise<number> {
  const child = start(cmd, 'ignore');
  const stderr = collectStderr(child);
  const started = performance.now();
  return new Promise((res, rej) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', rej);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const elapsed = performance.now() - started;
      if (code === 0) res(elapsed);
      else rej(new Error(`${describe(cmd)} ended with ${String(code ?? signal)}: ${stderr()}`));
    });
  });
}

/** A running process whose stdout is read line by line. */
export interface LineProcess {
  readonly child: ChildProcess;
  /** Resolves with ms since spawn when `count` lines have arrived; rejects if the process ends first. */
  linesReached(count: number, timeoutMs: number): Promise<number>;
  /** The last 4000 characters written to stderr. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Spawns cmd and calls onLine(line, msSinceSpawn) for every stdout line. */
export function spawnLines(cmd: Cmd, onLine: (line: string, at: number) => void = () => undefined): LineProcess {
  const child = start(cmd, 'pipe');
  const stderr = collectStderr(child);
  const started = performance.now();
  let lines = 0;
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const at = performance.now() - started;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) onLine(line, at);
    lines += parts.length;
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  child.once('close', () => {
    for (const w of [...waiters]) w();
  });
  const linesReached = (count: number, timeoutMs: number): Promise<number> =>
    new Promise((res, rej) => {
      const timer = setTimeout(() => finish(new Error(`${describe(cmd)}: ${lines} of ${count} lines after ${timeoutMs} ms`)), timeoutMs);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) rej(err);
        else res(performance.now() - started);
      };
      const check = (): void => {
        if (lines >= count) finish();
        else if (child.exitCode !== null || child.signalCode !== null)
          finish(new Error(`${describe(cmd)} ended after ${lines} lines: ${stderr()}`));
      };
      waiters.add(check);
      check();
    });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  };
  return { child, linesReached, stderr, stop };
}

/** Time (ms since spawn) until cmd has printed `count` lines; the process is killed afterwards. */
export async function timeToLines(cmd: Cmd, count: number, timeoutMs = 600_000): Promise<number> {
  const proc = spawnLines(cmd);
  try {
    return await proc.linesReached(count, timeoutMs);
  } finally {
    await proc.stop();
  }
}

/** Peak RSS (KiB) of a whole process, as GNU time reports it (getrusage ru_maxrss of the child). */
export async function peakRssKiB(cmd: Cmd): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'member-watch-bench-'));
  const out = join(dir, 'rss');
  try {
    await timeProcess({ file: TIME_BIN, args: ['-f', '%M', '-o', out, cmd.file, ...cmd.args] });
    return Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function hasGnuTime(): boolean {
  return existsSync(TIME_BIN);
}

/** Waits until a file exists (the CLI's --ready-file). */
export async function waitForFile(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await sleep(5);
  }
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return Math.abs(value) >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value) || 0} ms`;
}

export function ratio(value: number, peer: number): string {
  return Number.isFinite(value) && Number.isFinite(peer) && peer > 0 ? `${(value / peer).toFixed(2)}x` : 'n/a';
}

/** Resident memory of a running process, KiB: now (VmRSS) and its peak so far (VmHWM), from /proc/PID/status. */
export function memoryKiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

let ticksPerSecond: number | undefined;

/** CPU time (ms, user + system) a running process has used so far, from /proc/PID/stat. */
export function cpuMs(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the fields after the command name, which may hold spaces and parentheses itself
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime] = [Number(fields[11]), Number(fields[12])];
  return ((utime + stime) / ticksPerSecond) * 1000;
}
