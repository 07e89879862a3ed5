import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError, ExitCode, usageError } from '../errors.js';
import type { Kube } from '../kube/client.js';
import { namespaceProblem } from '../kube/namespace.js';
import { nameProblem } from '../members/validate.js';
import type { BindAddress } from '../operator/endpoints.js';
import type { LeaderElectionConfig } from '../operator/leader.js';
import type { OperatorOptions } from '../operator/operator.js';
import type { LogFormat } from '../present/operator-log.js';
import { claimStdoutFailure, describeStdoutFailure, readerLeft } from '../present/stdout-failure.js';
import { runContext } from './context.js';
import { parseDuration, parsePositiveInt, streamsLists } from './parse.js';

interface OperatorFlags {
  watchNamespace?: string;
  logFormat: LogFormat;
  finalizer: boolean;
  maxConcurrentReconciles: number;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  leaderElectLeaseDuration: number;
  leaderElectRenewDeadline: number;
  leaderElectRetryPeriod: number;
  /** false: turned off with 0. */
  healthProbeBindAddress: BindAddress | false;
  metricsBindAddress: BindAddress | false;
  watchTimeout: number;
}

export function operatorCommand(): Command {
  return new Command('operator')
    .description(
      'run as the in-cluster operator: welcome, move and see off members exactly once, with status, Events, leader election, probes and metrics',
    )
    .option('--watch-namespace <namespace>', 'only members of this namespace (default: every namespace; -n NAMESPACE also limits)')
    .addOption(new Option('--log-format <format>', 'text, or json for one JSON object per line').choices(['text', 'json']).default('text'))
    .option(
      '--no-finalizer',
      'do not hold members with a finalizer until their goodbye (goodbyes for deletions while no operator runs are then lost)',
    )
    .addOption(new Option('--max-concurrent-reconciles <n>', 'members reconciled at once').default(16).argParser(parsePositiveInt))
    .option('--leader-elect', 'run as one of several replicas: only the holder of a Lease acts')
    .option('--leader-election-namespace <namespace>', "the Lease's namespace (default: the context's namespace; in a pod, its own)")
    .option('--leader-election-id <name>', "the Lease's name", 'member-watch')
    .addOption(
      durationOption(
        '--leader-elect-lease-duration <duration>',
        'how long standbys wait for a silent leader before taking over',
        15_000,
        '15s',
      ),
    )
    .addOption(
      durationOption(
        '--leader-elect-renew-deadline <duration>',
        'how long the leader tries to renew before it stops acting',
        10_000,
        '10s',
      ),
    )
    .addOption(durationOption('--leader-elect-retry-period <duration>', 'between two tries to acquire or renew the Lease', 2_000, '2s'))
    .addOption(
      new Option('--health-probe-bind-address <address>', 'where /healthz and /readyz answer; 0 turns them off')
        .default(parseBindAddress(':8081'), ':8081')
        .argParser(parseBindAddress),
    )
    .addOption(
      new Option('--metrics-bind-address <address>', 'where /metrics answers (Prometheus text format); 0 turns it off')
        .default(parseBindAddress(':8080'), ':8080')
        .argParser(parseBindAddress),
    )
    .addOption(durationOption('--watch-timeout <duration>', 'the server ends each watch request after this long', 300_000, '5m').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  member-watch operator
  member-watch operator --watch-namespace team-a --log-format json
  member-watch operator --leader-elect --leader-election-namespace member-watch
  member-watch operator --metrics-bind-address 127.0.0.1:9090 --health-probe-bind-address 0

Exit codes: 0 stopped by SIGTERM or SIGINT, or its log's reader left, 2 invalid flags or an address already in
use, 3 the cluster refused the watch or the Lease (e.g. 403), 4 the Member CRD has no status subresource
(install-crd upgrades it), 6 its log could not be written (it stopped as on SIGTERM); a missing CRD is waited for.`,
    )
    .action(async (flags: OperatorFlags, cmd: Command) => {
      const ctx = runContext(cmd, { machine: flags.logFormat === 'json' });
      const kube = await ctx.kube();
      const modules = await loadOperator();
      const options = operatorOptions(flags, kube, ctx.namespaceFlag, modules);
      const log = new modules.OperatorLog(ctx.term, { format: flags.logFormat, qualified: options.namespace === undefined });
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      // A log nobody can read any more ends the operator as SIGTERM does (its work finished, its Lease released):
      // going on would announce what no line tells.
      let logFailure: NodeJS.ErrnoException | undefined;
      const releaseStdout = claimStdoutFailure((err) => {
        logFailure = err;
        stop.abort();
      });
      try {
        await modules.runOperator(kube, log, options, stop.signal);
      } finally {
        releaseStdout();
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        kube.close();
      }
      if (logFailure !== undefined && !readerLeft(logFailure)) throw new CliError(ExitCode.Output, describeStdoutFailure(logFailure));
    });
}

function durationOption(flags: string, description: string, ms: number, shown: string): Option {
  return new Option(flags, description).default(ms, shown).argParser(parseDuration);
}

const BIND_ADDRESS = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/;

/** controller-runtime's form: ":8081" (every interface), "127.0.0.1:8081", "[::1]:8081"; "0" turns it off. */
function parseBindAddress(text: string): BindAddress | false {
  // Not undefined: commander would store an empty string instead.
  if (text === '0') return false;
  const match = BIND_ADDRESS.exec(text);
  const port = Number(match?.[3]);
  if (match === null || port > 65_535) {
    throw new InvalidArgumentError(`"${text}" is not an address to listen on: use :PORT, HOST:PORT or [IPV6]:PORT, or 0 to turn it off`);
  }
  const host = match[1] ?? match[2];
  return { text, host: host === '' ? undefined : host, port };
}

/** Loaded once flags are read: --help never loads the operator, its client code or prom-client. */
async function loadOperator(): Promise<
  typeof import('../operator/operator.js') & typeof import('../operator/leader.js') & typeof import('../present/operator-log.js')
> {
  const [operator, leader, log] = await Promise.all([
    import('../operator/operator.js'),
    import('../operator/leader.js'),
    import('../present/operator-log.js'),
  ]);
  return { ...operator, ...leader, ...log };
}

type Modules = Awaited<ReturnType<typeof loadOperator>>;

/** The flags' decisions: what to watch, where the Lease lives, and whether the durations make sense together. */
function operatorOptions(flags: OperatorFlags, kube: Kube, namespaceFlag: string | undefined, modules: Modules): OperatorOptions {
  if (flags.watchTimeout < 1000) throw usageError('--watch-timeout must be at least 1s');
  const namespace = flags.watchNamespace ?? namespaceFlag;
  checkNamespace('--watch-namespace', flags.watchNamespace);
  const identity = modules.defaultIdentity();
  return {
    namespace,
    identity,
    useFinalizer: flags.finalizer,
    concurrency: flags.maxConcurrentReconciles,
    watchTimeoutSeconds: Math.ceil(flags.watchTimeout / 1000),
    streamLists: streamsLists(process.env),
    leaderElection: flags.leaderElect ? leaderElection(flags, kube, identity, modules) : undefined,
    probes: flags.healthProbeBindAddress || undefined,
    metrics: flags.metricsBindAddress || undefined,
  };
}

function leaderElection(flags: OperatorFlags, kube: Kube, identity: string, modules: Modules): LeaderElectionConfig {
  const config = {
    // The namespace without -n: in a pod, where the operator runs and may keep its Lease.
    namespace: flags.leaderElectionNamespace ?? kube.config.defaultNamespace,
    name: flags.leaderElectionId,
    identity,
    leaseDurationMs: flags.leaderElectLeaseDuration,
    renewDeadlineMs: flags.leaderElectRenewDeadline,
    retryPeriodMs: flags.leaderElectRetryPeriod,
  };
  checkNamespace('--leader-election-namespace', config.namespace);
  const badName = nameProblem(config.name);
  if (badName !== undefined) throw usageError(`invalid --leader-election-id ${JSON.stringify(config.name)}: ${badName}`);
  const problem = modules.leaderElectionProblem(config);
  if (problem !== undefined) throw usageError(`invalid leader election durations: ${problem}`, 'the defaults are 15s, 10s and 2s');
  return config;
}

function checkNamespace(flag: string, namespace: string | undefined): void {
  const invalid = namespace === undefined ? undefined : namespaceProblem(namespace);
  if (invalid !== undefined) throw usageError(`invalid ${flag} ${JSON.stringify(namespace)}: ${invalid}`);
}
