import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './control-plane.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly stderr: () => string;
  waitForLine(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): void;
  done: Promise<CliResult>;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_PATH = resolve(REPO_ROOT, 'bin', 'member-watch.js');
const DEFAULT_RUN_TIMEOUT_MS = 60_000;
const DEFAULT_LINE_TIMEOUT_MS = 30_000;

// the developer's shell must not leak a real cluster or color settings into tests
const SCRUBBED = ['KUBECONFIG', 'NO_COLOR', 'FORCE_COLOR'];

function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of SCRUBBED) delete env[key];
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

function spawnChild(file: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  killOnExit(child);
  // EPIPE when the CLI exits without reading stdin is expected
  child.stdin?.on('error', () => undefined);
  return child;
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
  });
  return () => text;
}

function resultOf(child: ChildProcess, stdout: () => string, stderr: () => string): Promise<CliResult> {
  return new Promise((res, rej) => {
    child.once('error', rej);
    child.once('close', (code, signal) => res({ code, signal, stdout: stdout(), stderr: stderr() }));
  });
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const child = spawnChild(process.execPath, [CLI_PATH, ...args], childEnv(opts.env));
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  child.stdin?.end(opts.input ?? '');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`member-watch ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout:\n${stdout()}\nstderr:\n${stderr()}`));
    }, timeoutMs);
    resultOf(child, stdout, stderr).then(
      (r) => {
        clearTimeout(timer);
        res(r);
      },
      (err: unknown) => {
        clearTimeout(timer);
        rej(err);
      },
    );
  });
}

class LineReader {
  readonly lines: string[] = [];
  private partial = '';
  private cursor = 0;
  private readonly waiters = new Set<() => void>();

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    this.notify();
  }

  finish(): void {
    if (this.partial !== '') this.lines.push(this.partial);
    this.partial = '';
    this.notify();
  }

  // each call consumes up to its match, so waiting twice for the same kind of line finds two lines
  take(pred: (line: string) => boolean): string | undefined {
    for (let i = this.cursor; i < this.lines.length; i++) {
      const line = this.lines[i] as string;
      if (pred(line)) {
        this.cursor = i + 1;
        return line;
      }
    }
    return undefined;
  }

  onChange(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  private notify(): void {
    for (const fn of [...this.waiters]) fn();
  }
}

function waitForLine(
  reader: LineReader,
  closed: Promise<void>,
  describe: () => string,
  pred: (line: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  return new Promise((res, rej) => {
    let exited = false;
    let settled = false;
    const finish = (err: Error | undefined, line?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      if (err) rej(err);
      else res(line as string);
    };
    const check = (): void => {
      const line = reader.take(pred);
      if (line !== undefined) finish(undefined, line);
      else if (exited) finish(new Error(`member-watch exited before the expected line${describe()}`));
    };
    const timer = setTimeout(() => finish(new Error(`no matching line after ${timeoutMs} ms${describe()}`)), timeoutMs);
    const unsubscribe = reader.onChange(check);
    void closed.then(() => {
      exited = true;
      check();
    });
    check();
  });
}

export function spawnCli(args: string[], opts: { env?: Record<string, string | undefined> } = {}): RunningCli {
  return follow(spawnChild(process.execPath, [CLI_PATH, ...args], childEnv(opts.env)));
}

/** Spawns any command with exactly this environment (nothing inherited), followed line by line like spawnCli. */
export function spawnProcess(file: string, args: string[], env: NodeJS.ProcessEnv): RunningCli {
  return follow(spawnChild(file, args, env));
}

function follow(child: ChildProcess): RunningCli {
  child.stdin?.end();
  const reader = new LineReader();
  const stdout = collect(child.stdout);
  child.stdout?.on('data', (chunk: string) => reader.push(chunk));
  child.stdout?.once('end', () => reader.finish());
  const stderr = collect(child.stderr);
  const done = resultOf(child, stdout, stderr);
  // tests that only use waitForLine must not crash on an unobserved rejection
  done.catch(() => undefined);
  const closed = done.then(
    () => undefined,
    () => undefined,
  );
  const describe = (): string =>
    ` (exit code ${String(child.exitCode)}, signal ${String(child.signalCode)})\nstdout:\n${stdout()}\nstderr:\n${stderr()}`;
  return {
    child,
    lines: reader.lines,
    stderr,
    waitForLine: (pred, timeoutMs = DEFAULT_LINE_TIMEOUT_MS) => waitForLine(reader, closed, describe, pred, timeoutMs),
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      child.kill(signal);
    },
    done,
  };
}
