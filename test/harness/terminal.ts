import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A real terminal with an interactive bash in it, as a person has one: tmux runs the shell on a pseudo-terminal,
 * `type` sends keys as a keyboard does (Ctrl-C is the byte 0x03 on the terminal's input, which the terminal's line
 * discipline or the program in raw mode turns into SIGINT; no signal is sent to a pid), and `screen` reads what the
 * terminal shows, after the program's cursor movements and line clearing.
 */
export interface Terminal {
  /** Literal text at the keyboard. */
  type(text: string): Promise<void>;
  /** Named keys, as tmux names them: 'C-c', 'Enter', 'C-z'. */
  press(...keys: string[]): Promise<void>;
  /** Runs a command line in the shell (types it and presses Enter). */
  run(commandLine: string): Promise<void>;
  /** The visible screen (with `history`, also what scrolled off it), lines joined, trailing blanks trimmed. */
  screen(options?: { history?: boolean }): Promise<string>;
  /** Waits until the screen matches, and returns it. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resizes the terminal, as a person dragging its window does: the program gets SIGWINCH. */
  resize(cols: number, rows: number): Promise<void>;
  /** The exit status of the last command, as the shell saw it ($?): asks the shell to print it. */
  lastStatus(): Promise<number>;
  close(): Promise<void>;
}

export interface TerminalOptions {
  /** Exported in the shell before the first prompt. */
  env?: Record<string, string>;
  cwd?: string;
  cols?: number;
  rows?: number;
}

export const PROMPT = 'PROMPT$ ';
const DEFAULT_WAIT_MS = 30_000;

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export async function openTerminal(options: TerminalOptions = {}): Promise<Terminal> {
  const dir = mkdtempSync(join(tmpdir(), 'member-watch-tty-'));
  const socket = `member-watch-${process.pid}-${randomBytes(4).toString('hex')}`;
  const rc = join(dir, 'bashrc');
  const exports = Object.entries(options.env ?? {}).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
  // A prompt the tests can find, no bracketed paste (its escapes would be typed around our keys), no history file.
  // The developer's cluster and colour settings stay out, as in every CLI test, and so does CI: this is a person's
  // terminal, where spinners are drawn (under CI they are not, which a test asks for by setting it itself).
  const settings = [
    `PS1=${shellQuote(PROMPT)}`,
    "bind 'set enable-bracketed-paste off'",
    'unset HISTFILE KUBECONFIG NO_COLOR FORCE_COLOR CI',
  ];
  writeFileSync(rc, [...settings, ...exports, ''].join('\n'));
  const tmux = (...args: string[]): Promise<{ stdout: string }> => run('tmux', ['-L', socket, '-f', '/dev/null', ...args]);
  const cols = String(options.cols ?? 120);
  const rows = String(options.rows ?? 30);
  const cwd = options.cwd ?? dir;
  await tmux(
    'new-session',
    '-d',
    '-s',
    't',
    '-x',
    cols,
    '-y',
    rows,
    '-c',
    cwd,
    `env TERM=xterm-256color bash --noprofile --rcfile ${rc} -i`,
  );
  const serverPid = Number((await tmux('display-message', '-p', '-t', 't', '#{pid}')).stdout.trim());
  // A test process that dies without closing the terminal must not leave tmux, its shell and its programs behind.
  const killServer = (): void => {
    try {
      process.kill(serverPid, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  process.once('exit', killServer);
  let statusCount = 0;

  const screen = async (options: { history?: boolean } = {}): Promise<string> => {
    const { stdout } = await tmux('capture-pane', '-p', '-J', '-t', 't', ...(options.history ? ['-S', '-'] : []));
    return stdout.replace(/\s+$/, '');
  };
  const waitFor = async (pattern: RegExp, timeoutMs = DEFAULT_WAIT_MS): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const shown = await screen();
      if (pattern.test(shown)) return shown;
      if (Date.now() > deadline) throw new Error(`no ${pattern} on the terminal after ${timeoutMs} ms; it shows:\n${shown}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const type = async (text: string): Promise<void> => {
    await tmux('send-keys', '-t', 't', '-l', '--', text);
  };
  const press = async (...keys: string[]): Promise<void> => {
    await tmux('send-keys', '-t', 't', ...keys);
  };
  const runLine = async (commandLine: string): Promise<void> => {
    await type(commandLine);
    await press('Enter');
  };
  await waitFor(new RegExp(escapeRegExp(PROMPT.trim())));
  return {
    type,
    press,
    run: runLine,
    screen,
    waitFor,
    async resize(cols: number, rows: number): Promise<void> {
      await tmux('resize-window', '-t', 't', '-x', String(cols), '-y', String(rows));
    },
    async lastStatus(): Promise<number> {
      statusCount += 1;
      const tag = `status-${statusCount}=`;
      // Built from two halves, so the typed command line itself does not match.
      await runLine(`echo "${tag.slice(0, 3)}""${tag.slice(3)}$?"`);
      const shown = await waitFor(new RegExp(`^${tag}(\\d+)$`, 'm'));
      return Number(new RegExp(`^${tag}(\\d+)$`, 'm').exec(shown)?.[1]);
    },
    async close(): Promise<void> {
      // The server ends the shell and what runs in it (SIGHUP); only if it cannot be asked, its pid is killed.
      await tmux('kill-server').catch(killServer);
      process.off('exit', killServer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
