// Terminals of every size, and of none: a pseudo-terminal that reports 0 columns and 0 rows (what `script` makes
// when its own input is not a terminal, as CI wrappers use it, and `docker run -t` before its first resize), a
// dumb one, one resized while the spinner spins, and one narrower than the spinner's text.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { CLI_PATH } from '../harness/cli.js';
import { commandsOnPath } from '../harness/commands.js';
import { needsTools } from '../harness/requirements.js';
import { escapeRegExp, openTerminal, PROMPT, type Terminal } from '../harness/terminal.js';
import { useControlPlane } from './support.js';

const env = useControlPlane({ installCrd: false });
const commands = commandsOnPath();
const SCRIPT = needsTools('script');
const TMUX = needsTools('tmux');
const PROMPT_AT_END = new RegExp(`${escapeRegExp(PROMPT.trim())}$`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let term: Terminal | undefined;

after(async () => {
  await term?.close();
  commands.remove();
});

/** A kubeconfig whose server refuses every connection, at an address long enough to fill any line. */
let refusedConfig: string | undefined;
function refused(): string {
  refusedConfig ??= env.cp.kubeconfigFor({ server: `https://127.0.0.1:9/${'a-very-long-path-to-the-api-server/'.repeat(3)}` });
  return refusedConfig;
}

interface ScriptRun {
  /** Bytes the terminal received so far. */
  bytes(): number;
  output(): string;
  /** Types on the terminal's keyboard: script hands its input to the terminal. */
  type(text: string): void;
  exited: Promise<number | null>;
  kill(): void;
}

/** `script -qfec CMD /dev/null` with a pipe, not a terminal, as its input: the terminal it makes has no size. */
function underScript(args: string[]): ScriptRun {
  // exec: the command is script's own child, so that it can be found and stopped by its pid.
  const command = `exec ${[process.execPath, CLI_PATH, ...args].map((a) => `'${a}'`).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: 'xterm-256color', CI: undefined, NO_COLOR: undefined, KUBECONFIG: undefined },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
  return {
    bytes: () => out.length,
    output: () => out,
    type: (text) => child.stdin.write(text),
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    kill: () => {
      // A command that never ends must not outlive the test: script's child first, then script.
      const pid = child.pid ?? 0;
      const children = existsSync(`/proc/${pid}/task/${pid}/children`) ? readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8') : '';
      for (const grandchild of children.split(' ').filter(Boolean)) killQuietly(Number(grandchild));
      child.kill('SIGKILL');
    },
  };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function within<T>(ms: number, what: Promise<T>): Promise<T | 'still running'> {
  return Promise.race([what, sleep(ms).then(() => 'still running' as const)]);
}

test('a terminal of 0 columns and 0 rows gets plain notices: bounded output, the command ends, its exit code is kept', SCRIPT, async () => {
  const run = underScript(['--kubeconfig', refused(), 'watch', '--for', 'added:patrick', '--timeout', '4s']);
  try {
    const code = await within(20_000, run.exited);
    assert.equal(code, 5, run.output());
    // Before: ora divided by the width, cleared lines for ever and wrote megabytes (17 MB in 15 s).
    assert.ok(run.bytes() < 4_000, `${run.bytes()} bytes:\n${run.output().slice(0, 500)}`);
    assert.match(run.output(), /connecting to https:\/\/127\.0\.0\.1:9\/a-very-long.*\.\.\./);
    assert.match(run.output(), /timed out after 4s; still waiting for: added:patrick/);
    assert.doesNotMatch(run.output(), /\u001b\[1A/, 'no cursor movement: nothing is redrawn');
  } finally {
    run.kill();
  }
});

test('Ctrl-C on a terminal of no size stops the watch with 130', SCRIPT, async () => {
  const run = underScript(['--kubeconfig', refused(), 'watch', '--for', 'added:patrick']);
  try {
    for (let i = 0; i < 100 && !run.output().includes('connecting to'); i++) await sleep(100);
    run.type('\u0003');
    assert.equal(await within(15_000, run.exited), 130, run.output());
    assert.ok(run.bytes() < 4_000, `${run.bytes()} bytes`);
  } finally {
    run.kill();
  }
});

/** A person's terminal (tmux) of this size, with the shell at a fresh prompt. */
async function terminal(cols: number, rows: number, extra: Record<string, string> = {}): Promise<Terminal> {
  await term?.close();
  term = await openTerminal({ cols, rows, env: { PATH: commands.path, ...extra } });
  return term;
}

test('TERM=dumb gets plain notices, even with FORCE_COLOR; Ctrl-C still stops the watch', TMUX, async () => {
  const t = await terminal(100, 20, { TERM: 'dumb', FORCE_COLOR: '1' });
  await t.run(`member-watch --kubeconfig ${refused()} watch --for added:patrick`);
  await t.waitFor(/reconnecting in .*\.\.\.\n.*reconnecting in/);
  await t.press('C-c');
  await t.waitFor(PROMPT_AT_END);
  assert.equal(await t.lastStatus(), 130);
});

/** The lines of the screen that show the spinner's text (its start, however it was cut). */
function spinnerLines(screen: string): string[] {
  return screen.split('\n').filter((l) => /connecting|a-very-long/.test(l));
}

test('a terminal narrower than the text: the spinner keeps to one line, cut short, and leaves nothing behind', TMUX, async () => {
  const t = await terminal(40, 15);
  await t.run(`member-watch --kubeconfig ${refused()} watch --for added:patrick`);
  // Connecting, then reconnecting after each refusal: whichever the spinner shows when the screen is read.
  const screen = await t.waitFor(/connecting .*…/);
  const shown = spinnerLines(screen);
  assert.equal(shown.length, 1, screen);
  assert.ok((shown[0] ?? '').length <= 40, screen);
  await t.press('C-c');
  const after = await t.waitFor(PROMPT_AT_END);
  assert.deepEqual(spinnerLines(after.split('watch --for added:patrick').at(-1) ?? ''), [], after);
  assert.equal(await t.lastStatus(), 130);
});

test('a terminal resized while the spinner spins: the text is cut to the new width, and nothing is left behind', TMUX, async () => {
  const t = await terminal(100, 15);
  // The API server answers, and has no Member CRD: the spinner waits for it with a long text, for ever.
  await t.run(`clear; member-watch --kubeconfig ${env.cp.kubeconfig} watch --for added:patrick`);
  await t.waitFor(/waiting for the Member CRD to be installed \(member-watch install-crd\)/);
  for (const cols of [40, 25]) {
    await t.resize(cols, 15);
    // Redrawn within a frame or two: then every line fits, and the one spinner line is cut short.
    let narrow = '';
    for (let tries = 0; tries < 30; tries++) {
      await sleep(100);
      narrow = await t.screen();
      if (narrow.split('\n').every((l) => l.length <= cols) && /waiting for.*…/.test(narrow)) break;
    }
    assert.deepEqual(
      narrow.split('\n').filter((l) => l.length > cols),
      [],
      `a line wider than ${cols} columns:\n${narrow}`,
    );
    assert.equal(narrow.split('\n').filter((l) => l.includes('waiting for')).length, 1, narrow);
  }
  await t.press('C-c');
  const screen = await t.waitFor(PROMPT_AT_END);
  assert.doesNotMatch(screen, /waiting|member-watch install-crd\)|…/, `the spinner left text behind:\n${screen}`);
  assert.equal(await t.lastStatus(), 130);
});
