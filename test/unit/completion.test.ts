// What `member-watch __complete` answers for the words typed so far, with contexts, namespaces and members
// from a stand-in for the kubeconfig and the cluster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildProgram } from '../../src/cli.js';
import { type Completion, completeWords, type CompletionSources, Directive } from '../../src/commands/completion.js';
import type { ConnectionFlags } from '../../src/kube/config.js';

interface Asked {
  source: string;
  flags: ConnectionFlags;
}

function sources(asked: Asked[] = []): CompletionSources {
  const answer = (source: string, values: string[]) => async (flags: ConnectionFlags) => {
    asked.push({ source, flags });
    return values;
  };
  return {
    contexts: answer('contexts', ['admin', 'arn:aws:eks:eu-west-1:1:cluster/prod', 'nobody']),
    namespaces: answer('namespaces', ['default', 'kube-system', 'kube-public', 'crew']),
    members: answer('members', ['patrick', 'sandy', 'spongebob']),
  };
}

async function values(words: string[], asked?: Asked[]): Promise<string[]> {
  return (await completeWords(buildProgram(), words, sources(asked))).candidates.map((c) => c.value);
}

async function completion(words: string[]): Promise<Completion> {
  return completeWords(buildProgram(), words, sources());
}

test('commands, with their descriptions, and no file names', async () => {
  const all = await completion(['']);
  // Every registered command (test/unit/cli.test.ts lists them), then commander's help command.
  const commands = buildProgram().commands.map((c) => c.name());
  assert.deepEqual(
    all.candidates.map((c) => c.value),
    [...commands, 'help'],
  );
  assert.match(all.candidates.find((c) => c.value === 'watch')?.description ?? '', /greet every Member/);
  assert.equal(all.directive, Directive.NoFileComp);
  assert.deepEqual(await values(['wa']), ['watch']);
  assert.deepEqual(await values(['-n', 'crew', 'de']), ['delete-member'], 'after a global flag and its value');
  assert.deepEqual(await values(['help', 'in']), ['install-crd']);
});

test("a command's flags and the global ones; long ones after --", async () => {
  const long = await values(['watch', '--']);
  for (const flag of ['--all-namespaces', '--for', '--output', '--namespace', '--context', '--kubeconfig', '--help']) {
    assert.ok(long.includes(flag), `${flag} in ${long.join(' ')}`);
  }
  assert.ok(!long.includes('-n') && !long.includes('--yes'), 'no short flags, no flags of other commands');
  assert.ok((await values(['watch', '-'])).includes('-A'));
  assert.deepEqual(await values(['apply-member', '--te']), ['--team']);
});

test('-n completes namespaces from the cluster the typed flags select', async () => {
  const asked: Asked[] = [];
  assert.deepEqual(await values(['--kubeconfig', '/k', '--context', 'nobody', 'watch', '-n', 'kube-'], asked), [
    'kube-system',
    'kube-public',
  ]);
  assert.deepEqual(asked, [{ source: 'namespaces', flags: { kubeconfig: '/k', context: 'nobody' } }]);
  assert.deepEqual(await values(['watch', '--namespace=c']), ['--namespace=crew']);
});

test('--context completes the kubeconfig contexts, colons and all', async () => {
  const asked: Asked[] = [];
  assert.deepEqual(await values(['--kubeconfig=/k', '--context', 'a'], asked), ['admin', 'arn:aws:eks:eu-west-1:1:cluster/prod']);
  assert.deepEqual(asked, [{ source: 'contexts', flags: { kubeconfig: '/k' } }]);
  assert.deepEqual(await values(['watch', '--context=arn:'], asked), ['--context=arn:aws:eks:eu-west-1:1:cluster/prod']);
});

test('member names for apply-member and delete-member, in the namespace typed', async () => {
  const asked: Asked[] = [];
  assert.deepEqual(await values(['-n', 'crew', 'delete-member', 'patrick', 's'], asked), ['sandy', 'spongebob']);
  assert.deepEqual(await values(['delete-member', 'patrick', ''], asked), ['sandy', 'spongebob'], 'not the one typed already');
  assert.deepEqual(asked[0], { source: 'members', flags: { namespace: 'crew' } });
  assert.deepEqual(await values(['apply-member', 'p']), ['patrick']);
  assert.deepEqual(await values(['apply-member', 'patrick', '']), [], 'apply-member takes one name');
});

test('choices of a flag or an argument; file names where a path is asked; nothing for free text', async () => {
  assert.deepEqual(await values(['watch', '-o', '']), ['text', 'json']);
  assert.deepEqual(await values(['apply-member', '--output', '']), ['name', 'json', 'yaml']);
  assert.deepEqual(await values(['completion', '']), ['bash', 'zsh', 'fish']);
  assert.deepEqual(await values(['completion', 'bash', '']), []);
  for (const words of [
    ['apply-member', '-f', ''],
    ['--kubeconfig', ''],
    ['watch', '--ready-file', '/tmp/r'],
  ]) {
    assert.deepEqual(await completion(words), { candidates: [], directive: Directive.Default }, words.join(' '));
  }
  for (const words of [
    ['watch', '--for', ''],
    ['apply-member', 'x', '--team', ''],
    ['install-crd', ''],
  ]) {
    assert.deepEqual(await completion(words), { candidates: [], directive: Directive.NoFileComp }, words.join(' '));
  }
});
