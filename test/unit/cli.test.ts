// The program as commander runs it, in-process: help, usage errors, the name it goes by.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli.js';

interface Outcome {
  out: string;
  err: string;
  error: unknown;
}

async function parse(args: string[], name?: string): Promise<Outcome> {
  const outcome: Outcome = { out: '', err: '', error: undefined };
  const program = buildProgram({
    name,
    output: { writeOut: (s) => void (outcome.out += s), writeErr: (s) => void (outcome.err += s), getOutHelpWidth: () => 200 },
  });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    outcome.error = err;
  }
  return outcome;
}

const SUBCOMMANDS = buildProgram().commands.map((c) => c.name());

test('every subcommand is registered, completion included', () => {
  assert.deepEqual(SUBCOMMANDS, [
    'install-crd',
    'uninstall-crd',
    'check',
    'apply-member',
    'delete-member',
    'watch',
    'operator',
    'release-finalizers',
    'completion',
  ]);
});

for (const name of SUBCOMMANDS) {
  test(`${name} --help shows the global flags, and no empty default`, async () => {
    const { out, error } = await parse([name, '--help']);
    assert.ok(error instanceof CommanderError && error.exitCode === 0, String(error));
    assert.match(out, /^Global Options:$/m);
    for (const flag of ['--kubeconfig <path>', '--context <name>', '-n, --namespace <namespace>', '--no-color', '--debug']) {
      assert.ok(out.includes(flag), `${name} --help lacks ${flag}:\n${out}`);
    }
    assert.doesNotMatch(out, /\(default: \[\]\)/);
  });

  test(`${name}: an unknown flag says so, with the usage hint of the top level`, async () => {
    const { err, error } = await parse([name, '--bogus']);
    assert.ok(error instanceof CommanderError && error.exitCode !== 0, String(error));
    assert.equal(err, "error: unknown option '--bogus'\n(run with --help for usage)\n");
  });
}

test('a repeatable flag keeps its description without "(default: [])"', async () => {
  const { out } = await parse(['watch', '--help']);
  assert.match(
    out,
    /--for <condition> +exit 0 once this holds: added:NAME, deleted:NAME, team:NAME=TEAM \(NAMESPACE\/NAME with -A\); repeatable\n/,
  );
});

test('help COMMAND shows the same help as COMMAND --help', async () => {
  const viaHelp = await parse(['help', 'watch']);
  const viaFlag = await parse(['watch', '--help']);
  assert.equal(viaHelp.out, viaFlag.out);
});

test('as kubectl plugin, usage lines read "kubectl member-watch"', async () => {
  const { out } = await parse(['watch', '--help'], 'kubectl member-watch');
  assert.match(out, /^Usage: kubectl member-watch watch \[options\]$/m);
});
