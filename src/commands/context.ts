import type { Command } from 'commander';
import type { Kube } from '../kube/client.js';
import { animates, colorLevel } from '../present/style.js';
import { Terminal } from '../present/terminal.js';

export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  color: boolean;
  debug?: boolean;
}

/** What every command gets: where to print, and a lazily made cluster connection. */
export interface RunContext {
  readonly term: Terminal;
  readonly debug: boolean;
  /** The -n flag if given: some commands must know whether the namespace was asked for. */
  readonly namespaceFlag: string | undefined;
  kube(): Promise<Kube>;
}

export function runContext(cmd: Command, output: { machine: boolean } = { machine: false }): RunContext {
  const globals = cmd.optsWithGlobals<GlobalOptions>();
  const colorFor = (isTTY: boolean | undefined): 0 | 1 | 2 | 3 =>
    colorLevel({ noColorFlag: !globals.color, machineOutput: output.machine, isTTY: isTTY === true, env: process.env });
  const term = new Terminal({
    stdout: process.stdout,
    stderr: process.stderr,
    color: colorFor(process.stdout.isTTY),
    spinner: animates(process.stderr.isTTY === true, colorFor(process.stderr.isTTY), process.env),
  });
  let kube: Kube | undefined;
  return {
    term,
    debug: globals.debug === true,
    namespaceFlag: globals.namespace,
    async kube(): Promise<Kube> {
      // Loaded on first use: the client library is the heaviest part of start-up and --help never needs it.
      const { connect } = await import('../kube/client.js');
      kube ??= connect(
        { kubeconfig: globals.kubeconfig, context: globals.context, namespace: globals.namespace },
        globals.debug ? (line): void => term.notice(term.chalk.dim(`debug: ${line}`)) : undefined,
      );
      return kube;
    },
  };
}
