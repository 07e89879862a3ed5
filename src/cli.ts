import { Command, CommanderError, Help, type Option, type OutputConfiguration } from 'commander';
import { applyMemberCommand } from './commands/apply-member.js';
import { checkCommand } from './commands/check.js';
import { COMPLETE, complete, completionCommand } from './commands/completion.js';
import { deleteMemberCommand } from './commands/delete-member.js';
import { installCrdCommand, uninstallCrdCommand } from './commands/crd.js';
import { operatorCommand } from './commands/operator.js';
import { releaseFinalizersCommand } from './commands/release-finalizers.js';
import { watchCommand } from './commands/watch.js';
import { CliError, ExitCode } from './errors.js';
import { escapeControl } from './present/escape.js';
import { describeStdoutFailure, readerLeft, watchStdout } from './present/stdout-failure.js';
import { version } from './version.js';

export interface ProgramOptions {
  /** `kubectl member-watch` when run as kubectl's plugin. */
  name?: string;
  /** Where commander writes help and usage errors (tests capture them). */
  output?: OutputConfiguration;
}

export function buildProgram(options: ProgramOptions = {}): Command {
  const program = new Command(options.name ?? 'member-watch')
    .description('Install, apply and watch helloworld.apimeister.com Members on Kubernetes')
    .version(version, '-V, --version')
    .option('--kubeconfig <path>', 'path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)')
    .option('--context <name>', 'the kubeconfig context to use')
    .option('-n, --namespace <namespace>', "the namespace (default: the context's namespace; in a pod, else the pod's; else default)")
    .option('--no-color', 'never colour the output (also: NO_COLOR=1)')
    .option('--debug', 'log each HTTP request (method, URL, status) to stderr; show stack traces')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true, optionDescription })
    .addHelpText(
      'after',
      `
Examples:
  member-watch install-crd
  member-watch apply-member patrick --team blue
  member-watch watch -n default
  member-watch watch -o json --for added:patrick --timeout 30s

Exit codes: 0 ok, 1 internal error, 2 invalid usage or input, 3 cluster error,
4 Member CRD not installed, 5 timed out, 6 stdout could not be written,
130/143 interrupted.`,
    );
  if (options.output !== undefined) program.configureOutput(options.output);
  for (const make of [
    installCrdCommand,
    uninstallCrdCommand,
    checkCommand,
    applyMemberCommand,
    deleteMemberCommand,
    watchCommand,
    operatorCommand,
    releaseFinalizersCommand,
    completionCommand,
  ]) {
    // Every subcommand says what the top level says: help with the global flags, the usage hint after an error.
    program.addCommand(make().copyInheritedSettings(program));
  }
  return program;
}

/** Commander's descriptions, without `(default: [])` for repeatable flags: an empty list is no default to tell. */
function optionDescription(this: Help, option: Option): string {
  const emptyList = Array.isArray(option.defaultValue) && option.defaultValue.length === 0;
  const shown = emptyList ? Object.assign(Object.create(option) as Option, { defaultValue: undefined }) : option;
  return Help.prototype.optionDescription.call(this, shown);
}

/** Runs the CLI; every outcome becomes process.exitCode, never process.exit(), so output is flushed. */
export async function main(argv: string[], name?: string): Promise<void> {
  handleStdoutErrors();
  const program = buildProgram({ name });
  try {
    // The shell's completion asks with the words typed so far, flags included: they are not ours to parse.
    if (argv[0] === COMPLETE) await complete(program, argv.slice(1));
    else await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    process.exitCode = reportFailure(err, argv.includes('--debug'));
  }
}

function reportFailure(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // Commander printed its message already; help and version are successes.
    return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (err instanceof CliError) {
    process.stderr.write(`error: ${escapeControl(err.message)}\n`);
    if (err.hint !== undefined) process.stderr.write(`hint: ${escapeControl(err.hint)}\n`);
    if (debug && err.cause instanceof Error) process.stderr.write(`${err.cause.stack ?? ''}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: internal error: ${escapeControl(message)}\n`);
  process.stderr.write(debug && err instanceof Error ? `${err.stack ?? ''}\n` : 'hint: run again with --debug for details\n');
  return ExitCode.Internal;
}

/**
 * A failing stdout ends a command that does not claim it (commands that change the cluster do, to stop and report).
 * `member-watch watch | head -1`: the reader left, so there is nobody to tell; end quietly with the usual exit code.
 * `> /dev/full`: the results are lost, which must not pass for success: one line on stderr, exit 6.
 */
function handleStdoutErrors(): void {
  // When stderr fails as well nothing more can be said, and its error must not end the process with a stack trace.
  process.stderr.on('error', () => undefined);
  watchStdout(process.stdout, (err) => {
    if (readerLeft(err)) process.exit(process.exitCode ?? ExitCode.Ok);
    process.stderr.write(`error: ${describeStdoutFailure(err)}\n`);
    process.exit(ExitCode.Output);
  });
}
