// What users get: the tarball `npm pack` makes from a fresh clone, installed into an empty prefix, run from
// another folder against the test control plane, and found by kubectl as a plugin. One packed install serves
// every test here (npm ci of the clone is the slow part).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { type PackedInstall, packFreshClone } from '../harness/packed.js';
import { lines, useControlPlane } from './support.js';

const run = promisify(execFile);
const env = useControlPlane({ installCrd: false });
const KUBECTL = '/usr/bin/kubectl';
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
let installed: PackedInstall;

before(async () => {
  installed = await packFreshClone();
});

after(() => installed?.remove());

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** An installed command, run as a user would: by name from PATH, in a folder that has nothing of the project. */
async function user(file: string, args: string[]): Promise<Ran> {
  const options = {
    cwd: installed.elsewhere,
    env: { ...process.env, PATH: installed.path, KUBECONFIG: env.cp.kubeconfig },
    timeout: 60_000,
  };
  try {
    const { stdout, stderr } = await run(file, args, options);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : -1, stdout: stdout ?? '', stderr: stderr ?? '' };
  }
}

test('the tarball holds the bundle, the CRD, the completions, the docs the README links and the licences, and no source maps', async () => {
  const { stdout } = await run('tar', ['-tzf', installed.tarball]);
  const files = lines(stdout).map((f) => f.replace(/^package\//, ''));
  for (const file of [
    'package.json',
    'LICENSE',
    'README.md',
    'bin/member-watch.js',
    'bin/kubectl-member_watch',
    'bin/kubectl_complete-member_watch',
    'dist/cli.js',
    'dist/THIRD-PARTY-NOTICES.txt',
    'crds/member.yaml',
    'completions/member-watch.bash',
    'completions/member-watch.zsh',
    'completions/member-watch.fish',
    'docs/rbac.md', // named by the hint of a 403
    ...readmeDocs(),
  ]) {
    assert.ok(files.includes(file), `${file} missing from the tarball:\n${files.join('\n')}`);
  }
  assert.deepEqual(
    files.filter((f) => f.endsWith('.map') || f.startsWith('src/') || f.startsWith('test/')),
    [],
  );
  const notices = readFileSync(join(installed.packageDir, 'dist', 'THIRD-PARTY-NOTICES.txt'), 'utf8');
  for (const bundled of ['@kubernetes/client-node@', 'commander@', 'chalk@', 'ora@', 'js-yaml@']) {
    assert.ok(notices.includes(bundled), `no licence for ${bundled}`);
  }
});

test('installing it installs nothing else', () => {
  assert.deepEqual(readdirSync(join(installed.prefix, 'lib', 'node_modules')), ['member-watch']);
  assert.equal(existsSync(join(installed.packageDir, 'node_modules')), false);
  const manifest = JSON.parse(readFileSync(join(installed.packageDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(manifest.dependencies, undefined);
  assert.deepEqual(readdirSync(join(installed.prefix, 'bin')).sort(), [
    'kubectl-member_watch',
    'kubectl_complete-member_watch',
    'member-watch',
  ]);
});

test('every import in dist/ resolves inside dist/ or to a Node built-in', () => {
  const dist = join(installed.packageDir, 'dist');
  const builtins = new Set(builtinModules);
  const problems: string[] = [];
  for (const file of readdirSync(dist).filter((f) => f.endsWith('.js'))) {
    const code = readFileSync(join(dist, file), 'utf8');
    // Static imports and re-exports (a module specifier has no blanks or parentheses, unlike text in a message).
    const specifiers = [...code.matchAll(/(?:\bfrom|\bimport)\s*["']([^"'\s()]+)["']/g)].map((m) => m[1] ?? '');
    for (const call of code.matchAll(/\b(?:import|require)\s*\(\s*([^)]*?)\s*\)/g)) {
      const literal = /^["']([^"']+)["']$/.exec(call[1] ?? '');
      if (literal) specifiers.push(literal[1] ?? '');
      else problems.push(`${file}: ${call[0]} loads what only the running code knows`);
    }
    for (const specifier of specifiers) {
      const found = specifier.startsWith('./') ? existsSync(join(dist, specifier)) : builtins.has(specifier.replace(/^node:/, ''));
      if (!found) problems.push(`${file}: ${specifier} is neither in dist/ nor built into Node`);
    }
  }
  assert.deepEqual(problems, []);
});

test('from another folder: --help, --version, install-crd, apply-member, watch --count', async () => {
  const help = await user('member-watch', ['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: member-watch \[options\] \[command\]/);
  assert.equal((await user('member-watch', ['--version'])).stdout, `${version}\n`);

  const crd = await user('member-watch', ['install-crd']);
  assert.equal(crd.code, 0, crd.stderr);
  assert.equal(crd.stdout, 'customresourcedefinition members.helloworld.apimeister.com created\n');
  const ns = await env.cluster.createNamespace('packed');
  const applied = await user('member-watch', ['-n', ns, 'apply-member', 'patrick', '--team', 'blue']);
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(applied.stdout, 'member.helloworld.apimeister.com/patrick created\n');
  const watched = await user('member-watch', ['-n', ns, 'watch', '--count', '1']);
  assert.equal(watched.code, 0, watched.stderr);
  assert.equal(watched.stdout, 'welcome patrick to the team blue\n');
  const script = await user('member-watch', ['completion', 'bash']);
  assert.match(script.stdout, /^complete -o default -F _member_watch_complete member-watch$/m);
});

test('kubectl finds the plugin on PATH, runs it and completes it', async () => {
  const list = await user(KUBECTL, ['plugin', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${join(installed.prefix, 'bin', 'kubectl-member_watch')}$`, 'm'));
  const ran = await user(KUBECTL, ['member-watch', '--version']);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, `${version}\n`);
  const help = await user(KUBECTL, ['member-watch', 'watch', '--help']);
  assert.match(help.stdout, /^Usage: kubectl member-watch watch \[options\]$/m);
  const completed = await user(KUBECTL, ['__complete', 'member-watch', 'apply']);
  assert.deepEqual(
    lines(completed.stdout).map((l) => l.split('\t')[0]),
    ['apply-member', ':4'],
  );
});

/** The docs/ pages the README links to: an installed package carries what its README points at. */
function readmeDocs(): string[] {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  return [...new Set([...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((m) => m[1] ?? ''))];
}
