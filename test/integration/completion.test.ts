// Shell completion as bash runs it (the script sourced, COMP_* set as bash sets them, the function called), with
// values from the kubeconfig and the test cluster; and through kubectl's own completion of its plugins.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { buildProgram } from '../../src/cli.js';
import { CLI_PATH } from '../harness/cli.js';
import { commandsOnPath } from '../harness/commands.js';
import { needsTools } from '../harness/requirements.js';
import { useControlPlane } from './support.js';

const run = promisify(execFile);
const env = useControlPlane();
const KUBECTL = '/usr/bin/kubectl';
const commands = commandsOnPath();
const path = commands.path;
after(() => commands.remove());

/** COMP_WORDS as bash makes them: split at blanks, and '=' and ':' (COMP_WORDBREAKS) are words of their own. */
function bashWords(line: string): string[] {
  const words = line.split(/\s+/).flatMap((w) => w.split(/([=:])/).filter((part) => part !== ''));
  return /\s$/.test(line) ? [...words, ''] : words;
}

const BASH_CALL = `
source <(member-watch completion bash)
COMP_LINE=$1 COMP_POINT=\${#1} COMP_CWORD=$2
COMP_WORDS=("\${@:3}")
_member_watch_complete
printf '%s\\n' "\${COMPREPLY[@]}"`;

/** What bash offers for the line, cursor at its end. */
async function bashComplete(line: string, extraEnv: Record<string, string> = {}): Promise<string[]> {
  const words = bashWords(line);
  const { stdout } = await run('bash', ['--norc', '--noprofile', '-c', BASH_CALL, 'bash', line, String(words.length - 1), ...words], {
    env: { ...process.env, PATH: path, KUBECONFIG: '', ...extraEnv },
  });
  return stdout.split('\n').filter((l) => l !== '');
}

test('bash completes commands and flags', async () => {
  const commands = buildProgram().commands.map((c) => c.name());
  assert.deepEqual(await bashComplete('member-watch '), [...commands, 'help']);
  assert.deepEqual(await bashComplete('member-watch wat'), ['watch']);
  assert.deepEqual(await bashComplete('member-watch watch --all'), ['--all-namespaces']);
  assert.deepEqual(await bashComplete('member-watch watch -o j'), ['json']);
  assert.deepEqual(await bashComplete('member-watch watch --output=j'), ['json'], "bash replaces only what follows '='");
});

test('bash completes --context from the kubeconfig and -n from the cluster', async () => {
  const ns = await env.cluster.createNamespace('complete');
  const kc = env.cp.kubeconfig;
  assert.deepEqual(await bashComplete(`member-watch --kubeconfig ${kc} --context `), ['admin', 'nobody']);
  assert.deepEqual(await bashComplete(`member-watch --kubeconfig ${kc} --context=no`), ['nobody']);
  assert.deepEqual(await bashComplete(`member-watch --kubeconfig ${kc} watch -n ${ns.slice(0, -3)}`), [ns]);
  assert.deepEqual(await bashComplete(`member-watch watch --namespace ${ns.slice(0, -3)}`, { KUBECONFIG: kc }), [ns]);
  // The user nobody may not list namespaces: nothing to offer, and no error on the command line.
  assert.deepEqual(await bashComplete(`member-watch --kubeconfig ${kc} --context nobody watch -n ${ns.slice(0, -3)}`), []);
});

test('bash completes member names from the namespace typed', async () => {
  const ns = await env.cluster.createNamespace('names');
  for (const name of ['patrick', 'sandy', 'spongebob']) await env.createMember(ns, name);
  const line = `member-watch --kubeconfig ${env.cp.kubeconfig} -n ${ns} delete-member`;
  assert.deepEqual(await bashComplete(`${line} s`), ['sandy', 'spongebob']);
  assert.deepEqual(await bashComplete(`${line} sandy `), ['patrick', 'spongebob']);
});

const ZSH_CALL = `
compdef() { : }
_describe() { print -rl -- "\${(@P)4}" }
_files() { print -r -- FILES }
source <(member-watch completion zsh)
words=("$@") CURRENT=$#
_member_watch`;

/** What zsh's completion function hands to _describe (value:description) or _files, for these words. */
async function zshComplete(words: string[]): Promise<string[]> {
  const { stdout } = await run('zsh', ['-f', '-c', ZSH_CALL, 'zsh', ...words], { env: { ...process.env, PATH: path, KUBECONFIG: '' } });
  return stdout.split('\n').filter((l) => l !== '');
}

/** What fish offers for the command line (its own `complete -C`). */
async function fishComplete(line: string): Promise<string[]> {
  const script = `member-watch completion fish | source; complete -C ${JSON.stringify(line)}`;
  const { stdout } = await run('fish', ['--no-config', '-c', script], { env: { ...process.env, PATH: path, KUBECONFIG: '' } });
  return stdout.split('\n').filter((l) => l !== '');
}

test('zsh and fish complete commands, flags, values and file names', needsTools('zsh', 'fish'), async () => {
  // Commands come with their descriptions (as the help shows them): value:description for zsh, a tab for fish.
  const watchDescription =
    buildProgram()
      .commands.find((c) => c.name() === 'watch')
      ?.description() ?? '';
  assert.deepEqual(await zshComplete(['member-watch', 'wat']), [`watch:${watchDescription}`]);
  assert.deepEqual(await zshComplete(['member-watch', '--kubeconfig', env.cp.kubeconfig, '--context', '']), ['admin', 'nobody']);
  assert.deepEqual(await zshComplete(['member-watch', 'apply-member', '-f', '']), ['FILES']);
  assert.deepEqual(await zshComplete(['member-watch', 'watch', '--for', '']), []);

  assert.deepEqual(await fishComplete('member-watch wat'), [`watch\t${watchDescription}`]);
  assert.deepEqual(await fishComplete(`member-watch --kubeconfig ${env.cp.kubeconfig} --context=n`), ['--context=nobody']);
  const dir = mkdtempSync(join(tmpdir(), 'member-watch-files-'));
  writeFileSync(join(dir, 'members.yaml'), '');
  assert.deepEqual(await fishComplete(`member-watch apply-member -f ${dir}/mem`), [join(dir, 'members.yaml')]);
  rmSync(dir, { recursive: true });
});

test('kubectl member-watch <TAB> completes through kubectl_complete-member_watch', async () => {
  const ns = await env.cluster.createNamespace('kubectl');
  const { stdout } = await run(KUBECTL, ['__complete', 'member-watch', 'watch', '-n', ns.slice(0, -2)], {
    env: { ...process.env, PATH: path, KUBECONFIG: env.cp.kubeconfig },
  });
  assert.deepEqual(
    stdout.split('\n').filter((l) => l !== ''),
    [ns, ':4'],
  );
});

test('a cluster that never answers costs a Tab press at most a few seconds, and offers nothing', async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = silent.address() as net.AddressInfo;
    const kc = env.cp.kubeconfigFor({ server: `https://127.0.0.1:${port}` });
    const started = Date.now();
    const { stdout } = await run(process.execPath, [CLI_PATH, '__complete', '--kubeconfig', kc, 'watch', '-n', '']);
    assert.equal(stdout, ':4\n');
    assert.ok(Date.now() - started < 12_000, `took ${Date.now() - started} ms`);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
