// `npm run demo` as a newcomer runs it, in a real terminal: every message shows, and Ctrl-C stops the watch and the
// control plane it started, leaving no process and no files behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { commandsOnPath } from '../harness/commands.js';
import { needsTools } from '../harness/requirements.js';
import { escapeRegExp, openTerminal, PROMPT } from '../harness/terminal.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Processes whose command line names the demo's folder: its etcd, kube-apiserver and watch. Only looked at. */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('npm run demo shows every message, and Ctrl-C leaves nothing running', needsTools('tmux'), async () => {
  const commands = commandsOnPath();
  const term = await openTerminal({ cwd: REPO_ROOT, rows: 60, env: { PATH: commands.path, DEMO_PAUSE_MS: '300' } });
  let dir: string | undefined;
  try {
    await term.run('npm run demo');
    await term.waitFor(/press Ctrl-C to stop it/, 180_000);
    const shown = await term.screen({ history: true });
    dir = /its files: (\S+)/.exec(shown)?.[1];
    assert.ok(dir !== undefined, shown);
    for (const line of [
      'customresourcedefinition members.helloworld.apimeister.com created',
      'welcome patrick to the team blue',
      'welcome sandy',
      'sandy joined the team blue',
      'patrick moved from team blue to team red',
      'patrick was updated',
      'sad to see you go patrick',
      'reconnected',
      'welcome gary to the team pets',
    ]) {
      assert.match(shown, new RegExp(`^${escapeRegExp(line)}$`, 'm'));
    }
    const demoDir = dir;
    assert.ok(processesUsing(demoDir).length >= 3, 'etcd, kube-apiserver and the watch run while the demo does');

    await term.press('C-c');
    await term.waitFor(new RegExp(`${escapeRegExp(PROMPT.trim())}$`), 30_000);
    assert.equal(await term.lastStatus(), 130);
    await until('the demo left no process behind', () => processesUsing(demoDir).length === 0, 20_000);
    assert.equal(existsSync(demoDir), false, `${demoDir} removed`);
  } finally {
    // Whatever the demo left is the demo's own: stop it, so a failure here does not outlive the test.
    for (const pid of dir === undefined ? [] : processesUsing(dir)) process.kill(pid, 'SIGKILL');
    await term.close();
    commands.remove();
  }
});
