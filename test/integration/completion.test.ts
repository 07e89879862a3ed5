// Shell completion as bash runs it (the script sourced, COMP_* set as bash sets them, the function called), with
// values from the kubeconfig and the test cluster; and through kubectl's own completion of its plugins.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import { CLI_PATH } from '../harness/cli.js';
import { useControlPlane } from './support.js';

const run = promisify(execFile);
const env = useControlPlane();
const KUBECTL = '/usr/bin/kubectl';
let path: string;

before(() => {
  // The installed commands, as npm links them: member-watch and kubectl's plugin and completion helper.
  const bin = mkdtempSync(join(tmpdir(), 'member-watch-bin-'));
  const binDir = dirname(CLI_PATH);
  symlinkSync(CLI_PATH, join(bin, 'member-watch'));
  for (const name of ['kubectl-member_watch', 'kubectl_complete-member_watch']) symlinkSync(join(binDir, name), join(bin, name));
  path = `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
});

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
  assert.deepEqual(await bashComplete('member-watch '), [
    'install-crd',
    'uninstall-crd',
    'check',
    'apply-member',
    'delete-member',
    'watch',
    'operator',
    'release-finalizers',
    'completion',
    'help',
  ]);
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
    assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
