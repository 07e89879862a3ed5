// In a real terminal (tmux, an interactive bash): Ctrl-C stops every command at every moment, keys typed while a
// spinner shows are neither echoed nor left for the shell, and the spinner's line is cleared before the prompt.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { commandsOnPath } from '../harness/commands.js';
import { needsTools } from '../harness/requirements.js';
import { escapeRegExp, openTerminal, PROMPT, type Terminal } from '../harness/terminal.js';
import { useControlPlane } from './support.js';

const env = useControlPlane({ installCrd: false });
const commands = commandsOnPath();
const PROMPT_AT_END = new RegExp(`${escapeRegExp(PROMPT.trim())}$`);
const TMUX = needsTools('tmux');
let term: Terminal;

before(async () => {
  if (TMUX.skip === undefined) term = await openTerminal({ env: { PATH: commands.path } });
});

after(async () => {
  await term?.close();
  commands.remove();
});

/** The prompt is back on the last line with nothing typed after it: the command ended, no key was left over. */
async function promptIsBack(): Promise<string> {
  return term.waitFor(PROMPT_AT_END);
}

/** Starts a command line at a fresh prompt on a cleared screen (a failed test before must not leave it running). */
async function start(commandLine: string): Promise<void> {
  if (!PROMPT_AT_END.test(await term.screen())) {
    await term.press('C-c');
    await promptIsBack();
  }
  await term.run(`clear; ${commandLine}`);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

test('Ctrl-C stops watch while it connects to a server that does not answer; typed keys are dropped', TMUX, async () => {
  const kubeconfig = env.cp.kubeconfigFor({ server: 'https://127.0.0.1:9' });
  await start(`member-watch --kubeconfig ${kubeconfig} watch --for added:patrick`);
  // connecting, then reconnecting after each refusal: one spinner all along
  await term.waitFor(/connecting/);
  await term.type('xyz');
  await sleep(500);
  assert.doesNotMatch(await term.screen(), /xyz/, 'typed keys are not echoed through the spinner');
  await term.press('C-c');
  const screen = await promptIsBack();
  assert.doesNotMatch(screen, /connecting|xyz/, `the spinner's line is cleared, the keys are gone:\n${screen}`);
  assert.equal(await term.lastStatus(), 130, 'interrupted with a --for condition pending');
});

test('Ctrl-C stops watch while it waits for the CRD; Ctrl-Z suspends it and fg brings the spinner back', TMUX, async () => {
  await start(`member-watch --kubeconfig ${env.cp.kubeconfig} watch --for added:patrick`);
  await term.waitFor(/waiting for the Member CRD/);
  await term.press('C-z');
  await term.waitFor(/Stopped/);
  await term.run('fg');
  await sleep(500);
  await term.type('abc');
  await term.waitFor(/waiting for the Member CRD/);
  await term.press('C-c');
  const screen = await promptIsBack();
  assert.doesNotMatch(screen.split('fg')[1] ?? '', /waiting for|abc/, screen);
  assert.equal(await term.lastStatus(), 130);
});

test('under CI a terminal gets plain lines: every wait is told, and Ctrl-C still stops the watch', TMUX, async () => {
  await start(`CI=true member-watch --kubeconfig ${env.cp.kubeconfig} watch --for added:patrick`);
  // A spinner that CI silenced would show its first text and nothing after it.
  await term.waitFor(/waiting for the Member CRD/);
  await term.press('C-c');
  await promptIsBack();
  assert.equal(await term.lastStatus(), 130);
});

test('in the background (&), the spinner leaves the keyboard alone and the job is not stopped for touching it', TMUX, async () => {
  const kubeconfig = env.cp.kubeconfigFor({ server: 'https://127.0.0.1:9' });
  await start(`member-watch --kubeconfig ${kubeconfig} watch --for added:patrick & sleep 3; jobs`);
  // A background job that switched the terminal to raw mode would have been stopped (SIGTTOU): "Stopped".
  const screen = await term.waitFor(/\[1\]\+\s+(Running|Stopped)/);
  assert.match(screen, /\[1\]\+\s+Running/, screen);
  await term.run('kill %1; wait');
  await promptIsBack();
});

test('keys typed while a spinner shows do not reach the shell when the command ends by itself', TMUX, async () => {
  await start(`member-watch --kubeconfig ${env.cp.kubeconfig} watch --for added:patrick --timeout 8s`);
  await term.waitFor(/waiting for the Member CRD/);
  // A whole command line: if the keys were left for the shell, it would run it and print LEAKED.
  await term.type('echo LEAK""ED');
  await term.press('Enter');
  const screen = await term.waitFor(/timed out after 8s/, 20_000);
  assert.equal(await term.lastStatus(), 5, screen);
  assert.doesNotMatch(await term.screen(), /LEAKED|LEAK""ED/);
});

test('Ctrl-C stops install-crd while it waits for the CRD to be established', TMUX, async () => {
  // Another CRD of the group already owns the kind Member: ours is never NamesAccepted, so install-crd waits.
  await env.cluster.ext.createCustomResourceDefinition({
    body: {
      metadata: { name: 'rivals.helloworld.apimeister.com' },
      spec: {
        group: 'helloworld.apimeister.com',
        scope: 'Namespaced',
        names: { plural: 'rivals', singular: 'rival', kind: 'Member', listKind: 'MemberList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } }],
      },
    },
  });
  await start(`member-watch --kubeconfig ${env.cp.kubeconfig} install-crd`);
  await term.waitFor(/waiting for the CRD to be established/);
  await term.type('qwerty');
  await sleep(300);
  await term.press('C-c');
  const screen = await promptIsBack();
  assert.doesNotMatch(screen, /waiting for|qwerty/, screen);
  assert.equal(await term.lastStatus(), 130);
});
