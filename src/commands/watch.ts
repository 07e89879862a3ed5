import { access, constants, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { CliError, ExitCode, fileProblem, usageError } from '../errors.js';
import { formatMs } from '../kube/poll.js';
import { memberOp } from '../members/resource.js';
import { checkTeam } from '../members/validate.js';
import type { Kube } from '../kube/client.js';
import { escapeControl } from '../present/escape.js';
import { followReader } from '../present/stdout-failure.js';
import type { EventPrinter, StatusReporter } from '../present/watch-output.js';
import { checkConditionScope, type Condition, ConditionTracker, parseCondition } from '../watcher/conditions.js';
import type { MemberEvent, WatcherStatus } from '../watcher/events.js';
import type { WatchOptions, WatchSink } from '../watcher/watcher.js';
import { type RunContext, runContext } from './context.js';
import { collect, parseDuration, parsePositiveInt, streamsLists } from './parse.js';

interface WatchFlags {
  allNamespaces?: boolean;
  selector?: string;
  fieldSelector?: string;
  team: string[];
  output: 'text' | 'json';
  timestamps?: boolean;
  verbose?: boolean;
  watchOnly?: boolean;
  for: string[];
  inOrder?: boolean;
  timeout?: number;
  count?: number;
  readyFile?: string;
  maxReconnects?: number;
  watchTimeout: number;
}

type StopReason = 'done' | 'timeout' | 'failed' | 'SIGINT' | 'SIGTERM';

/** How long a reader that stopped reading gets to take the last results once the watch was stopped. */
const STUCK_OUTPUT_GRACE_MS = 1_000;

export function watchCommand(): Command {
  return new Command('watch')
    .description('greet every Member that appears and see off every one that leaves, resuming across disconnects')
    .option('-A, --all-namespaces', 'watch every namespace; names read NAMESPACE/NAME')
    .option('-l, --selector <selector>', 'only members matching this label selector, e.g. role=lead')
    .option('--field-selector <selector>', 'only members matching this field selector, e.g. metadata.name=patrick')
    .option('--team <team>', 'only members of this team (repeatable); one that moves out of it is seen off from it', collect, [])
    .addOption(
      new Option('-o, --output <format>', 'text for people, json for one JSON object per line (NDJSON)')
        .choices(['text', 'json'])
        .default('text'),
    )
    .option('--timestamps', 'prefix each line with the time the event was seen')
    .option('--verbose', 'also show updates that leave the team as it was')
    .option('--watch-only', 'do not greet the members that exist already')
    .option(
      '--for <condition>',
      'exit 0 once this holds: added:NAME, deleted:NAME, team:NAME=TEAM (NAMESPACE/NAME with -A); repeatable',
      collect,
      [],
    )
    .option('--in-order', 'the --for conditions must hold in the order given')
    .addOption(
      new Option(
        '--timeout <duration>',
        'stop after this long: exit 5 naming what is unmet (--for, --count), else exit 0; 0 checks once',
      ).argParser(parseDuration),
    )
    .addOption(new Option('--count <n>', 'exit 0 after N printed events').argParser(parsePositiveInt))
    .option('--ready-file <path>', 'create this file once existing members are listed and the watch is live (removed at start)')
    .addOption(new Option('--max-reconnects <n>', 'give up (exit 3) after N failed reconnects in a row').argParser(parsePositiveInt))
    .addOption(
      new Option(
        '--watch-timeout <duration>',
        'ask the server to end each watch request after this long; silence beyond it means a dead connection',
      )
        .default(300_000, '5m')
        .argParser(parseDuration),
    )
    .addHelpText(
      'after',
      `
Examples:
  member-watch watch -n default
  member-watch watch -A --timestamps
  member-watch watch -o json | jq .name
  member-watch watch --for added:patrick --for team:patrick=blue --timeout 30s
  member-watch watch -A --for deleted:default/patrick
  member-watch watch --team blue --team red
  member-watch watch --ready-file /tmp/ready --count 1 &`,
    )
    .action(async (flags: WatchFlags, cmd: Command) => {
      const conditions = flags.for.map(parseCondition);
      const ctx = runContext(cmd, { machine: flags.output === 'json' });
      process.exitCode = await runWatch(ctx, flags, conditions);
    });
}

async function runWatch(ctx: RunContext, flags: WatchFlags, conditions: Condition[]): Promise<number> {
  if (flags.watchTimeout < 1000) throw new CliError(ExitCode.Usage, '--watch-timeout must be at least 1s');
  for (const team of flags.team) checkTeam(team);
  const kube = await ctx.kube();
  const namespace = flags.allNamespaces ? undefined : kube.namespace;
  checkConditionScope(conditions, namespace, kube.namespace);
  if (flags.readyFile !== undefined) await clearReadyFile(flags.readyFile);
  followReader();
  const [{ watchMembers, ReconnectsExhausted }, { EventPrinter, StatusReporter }, { describeFailure }] = await Promise.all([
    import('../watcher/watcher.js'),
    import('../present/watch-output.js'),
    import('../present/watch-notices.js'),
  ]);
  const tracker = new ConditionTracker(conditions, flags.inOrder === true);
  const stopper = new Stopper(flags.timeout);
  const { status, printer } = presenters(ctx, flags, { namespace, server: kube.endpoint.server }, { EventPrinter, StatusReporter });
  const sink = new CommandSink(ctx, flags, { tracker, status, stopper, printer });
  sink.onEmptyList = () => void checkNamespace(kube, namespace, sink);
  try {
    await watchMembers(kube, watchOptions(flags, namespace, tracker.active), sink, stopper.signal);
    // Goals met during the first list end the watch before it went live: a script waiting for the file must
    // still see it, or it waits for ever.
    if (stopper.reason === 'done') sink.ready.write();
    await sink.ready.settled();
  } catch (err) {
    if (!(err instanceof ReconnectsExhausted)) throw err;
    if (err.attempts === 0) throw kube.explain(err.last, memberOp('watch', namespace));
    const { server, contextName } = kube.endpoint;
    throw new CliError(ExitCode.Cluster, `gave up after ${plural(err.attempts, 'reconnect')}: ${describeFailure(err.last)}`, {
      hint: `the API server is ${server} (context ${contextName})`,
      cause: err.last,
    });
  } finally {
    stopper.dispose();
    await status.stop();
    kube.close();
    if (stopper.reason !== 'done') abandonStuckOutput(ctx.term.stdout);
  }
  return exitCodeFor(stopper.reason, sink, flags);
}

/** A watch that finds no members in its namespace says so when the namespace itself does not exist, and waits on. */
async function checkNamespace(kube: Kube, namespace: string | undefined, sink: CommandSink): Promise<void> {
  if (namespace === undefined) return;
  const { namespaceExists } = await import('../kube/namespace.js');
  if ((await namespaceExists(kube, namespace)) !== false) return;
  sink.missingNamespace = namespace;
  sink.notice(`namespace ${namespace} does not exist: waiting for it and its members`);
}

/** What tells the person at the terminal (stderr) and what prints the events (stdout). */
function presenters(
  ctx: RunContext,
  flags: WatchFlags,
  scope: { namespace: string | undefined; server: string },
  classes: { EventPrinter: typeof EventPrinter; StatusReporter: typeof StatusReporter },
): { status: StatusReporter; printer: EventPrinter } {
  const selectors = [flags.selector, flags.fieldSelector].filter((s) => s !== undefined);
  const status = new classes.StatusReporter(ctx.term, { ...scope, selected: selectors.length > 0 || flags.team.length > 0 });
  const printer = new classes.EventPrinter(ctx.term, {
    format: flags.output,
    qualified: flags.allNamespaces === true,
    timestamps: flags.timestamps === true,
    verbose: flags.verbose === true,
    selectors: selectors.length > 0 ? selectors.join(', ') : undefined,
  });
  return { status, printer };
}

/** --timeout 0 checks once, as `kubectl wait --timeout=0`: nothing is waited for, no failure retried. */
function checksOnce(flags: WatchFlags): boolean {
  return flags.timeout === 0;
}

function watchOptions(flags: WatchFlags, namespace: string | undefined, waitingForConditions: boolean): WatchOptions {
  const checkOnce = checksOnce(flags);
  return {
    namespace,
    labelSelector: flags.selector,
    fieldSelector: flags.fieldSelector,
    teams: flags.team.length > 0 ? flags.team : undefined,
    greetExisting: !flags.watchOnly,
    waitForCrd: !checkOnce && (waitingForConditions || flags.timeout !== undefined),
    watchTimeoutSeconds: Math.ceil(flags.watchTimeout / 1000),
    pageSize: 500,
    streamLists: streamsLists(process.env),
    maxReconnects: checkOnce ? 0 : flags.maxReconnects,
  };
}

function exitCodeFor(reason: StopReason | undefined, sink: CommandSink, flags: WatchFlags): number {
  if (reason === 'done') return ExitCode.Ok;
  if (reason === 'failed') throw sink.ready.failure;
  if (reason === 'timeout') {
    const pending = [...sink.pending(), ...sink.notStarted()];
    if (pending.length === 0) return ExitCode.Ok;
    const after = checksOnce(flags) ? 'not met when checked once (--timeout 0)' : `timed out after ${formatMs(flags.timeout ?? 0)}`;
    const missing = sink.missingNamespace;
    const hint = missing === undefined ? undefined : `namespace ${missing} does not exist (kubectl create namespace ${missing})`;
    throw new CliError(ExitCode.Timeout, `${after}; still waiting for: ${pending.join(', ')}`, hint === undefined ? undefined : { hint });
  }
  if (sink.pending().length === 0) return ExitCode.Ok;
  return reason === 'SIGTERM' ? ExitCode.Terminated : ExitCode.Interrupted;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * A reader that stopped reading leaves results in stdout's buffer, and Node waits for them before it exits: the
 * watch, stopped by a signal or --timeout, would hang after all. It gives the reader a moment, then exits without them.
 */
function abandonStuckOutput(stdout: Writable): void {
  if (stdout.writableLength === 0) return;
  // An exception to "never process.exit()": output that nobody reads cannot be flushed, and the stop was asked for.
  setTimeout(() => process.exit(), STUCK_OUTPUT_GRACE_MS).unref();
}

/**
 * The file scripts wait for: a stale one from an earlier run must not pass for this one, and a folder that does not
 * exist is a typo to report before anything starts, not after the first greetings.
 */
async function clearReadyFile(path: string): Promise<void> {
  const folder = dirname(resolve(path));
  const isFolder = await stat(folder).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isFolder)
    throw usageError(`--ready-file ${path}: the folder ${folder} does not exist`, 'create it first, or name a file in an existing folder');
  const writable = await access(folder, constants.W_OK).then(
    () => true,
    () => false,
  );
  if (!writable) throw usageError(`--ready-file ${path}: the folder ${folder} is not writable`);
  await rm(path, { force: true }).catch((err: NodeJS.ErrnoException) => {
    throw usageError(`--ready-file ${path}: cannot remove what is there: ${fileProblem(err)}`, 'name a file, not a folder');
  });
}

/** Ends the watch: conditions met, --timeout, a failure of the command's own, or a signal. The first reason wins. */
class Stopper {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => this.stop(signal as StopReason);
  reason: StopReason | undefined;

  constructor(timeoutMs: number | undefined) {
    if (timeoutMs !== undefined && timeoutMs > 0) this.timer = setTimeout(() => this.stop('timeout'), timeoutMs);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  stop(reason: StopReason): void {
    this.reason ??= reason;
    this.controller.abort();
  }

  dispose(): void {
    clearTimeout(this.timer);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** --ready-file: written once, when the watch is first live (or its goals were met before). */
class ReadyFile {
  private writing: Promise<void> | undefined;
  failure: CliError | undefined;

  constructor(
    private readonly path: string | undefined,
    private readonly onFailure: () => void,
  ) {}

  write(): void {
    const path = this.path;
    if (path === undefined || this.writing !== undefined) return;
    this.writing = writeFile(path, `${new Date().toISOString()}\n`).catch((err: NodeJS.ErrnoException) => {
      this.failure = new CliError(ExitCode.Usage, `--ready-file ${path}: cannot write it: ${fileProblem(err)}`);
      this.onFailure();
    });
  }

  async settled(): Promise<void> {
    await this.writing;
  }
}

/** Decides what happens with each event: print it, count it, check the conditions, stop when done. */
class CommandSink implements WatchSink {
  private printed = 0;
  private drain: Promise<void> | undefined;
  private live = false;
  /** Until the watch is first live: what it is waiting for, in words for the timeout message. */
  private startingOn = 'the first list of members';
  readonly ready: ReadyFile;
  /** Told when the first list finds no member at all. */
  onEmptyList: () => void = () => undefined;
  /** The watched namespace, once the API server said it does not exist. */
  missingNamespace: string | undefined;

  private readonly tracker: ConditionTracker;
  private readonly statusReporter: StatusReporter;
  private readonly stopper: Stopper;
  private readonly printer: EventPrinter;

  constructor(
    private readonly ctx: RunContext,
    private readonly flags: WatchFlags,
    parts: { tracker: ConditionTracker; status: StatusReporter; stopper: Stopper; printer: EventPrinter },
  ) {
    this.tracker = parts.tracker;
    this.statusReporter = parts.status;
    this.stopper = parts.stopper;
    this.printer = parts.printer;
    this.ready = new ReadyFile(flags.readyFile, () => this.stopper.stop('failed'));
  }

  event(event: MemberEvent): void {
    if (this.stopper.signal.aborted) return;
    const name = this.flags.allNamespaces ? `${event.member.namespace}/${event.member.name}` : event.member.name;
    this.tracker.observe(event, name);
    if (this.printer.shows(event)) {
      if (!this.printer.print(event)) this.drain ??= waitForDrain(this.ctx.term.stdout, this.stopper.signal);
      this.printed += 1;
    }
    if (this.finished()) this.stopper.stop('done');
  }

  status(status: WatcherStatus): void {
    this.statusReporter.report(status);
    if (status.kind === 'live') {
      this.live = true;
      this.ready.write();
    } else if (status.kind === 'listed' && status.members === 0) {
      this.onEmptyList();
    } else if (status.kind === 'waiting-for-crd') {
      this.startingOn = 'the Member CRD to be installed';
    } else if (status.kind === 'reconnecting') {
      this.startingOn = 'the API server to answer';
    }
    // Checked once: the first list has been told, and what it did not meet is unmet.
    if (status.kind === 'live' && checksOnce(this.flags)) this.stopper.stop('timeout');
  }

  notice(text: string): void {
    this.ctx.term.notice(this.ctx.term.chalk.dim(escapeControl(text)));
  }

  backpressure(): Promise<void> | undefined {
    const drain = this.drain;
    this.drain = undefined;
    return drain;
  }

  /** What is still awaited of --for and --count, in words for the timeout message. */
  pending(): string[] {
    const unmet = this.tracker.unmet.map((c) => c.text);
    const count = this.flags.count;
    return count !== undefined && this.printed < count ? [...unmet, `${count - this.printed} more of ${count} events`] : unmet;
  }

  /** A watch that never went live has not watched at all, goals or not: --timeout then says what held it up. */
  notStarted(): string[] {
    return this.live ? [] : [this.startingOn];
  }

  private finished(): boolean {
    const countDone = this.flags.count === undefined || this.printed >= this.flags.count;
    const conditionsDone = this.tracker.done;
    const anyGoal = this.tracker.active || this.flags.count !== undefined;
    return anyGoal && countDone && conditionsDone;
  }
}

/** Resolves when stdout can take more, or when the watch is stopped: a reader that never reads must not hold it. */
function waitForDrain(stream: Writable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
