import { Command, Option } from 'commander';
import { CliError, ExitCode } from '../errors.js';
import type { Kube } from '../kube/client.js';
import type { CheckReport } from '../members/check.js';
import type { Crd, Deadline } from '../members/crd.js';
import type { SchemaNode } from '../members/fit.js';
import { members } from '../members/names.js';
import { CRD_NAME, FINALIZER } from '../members/resource.js';
import { type RunContext, runContext } from './context.js';
import { parseDuration } from './parse.js';

const LABEL = `customresourcedefinition ${CRD_NAME}`;

interface InstallOptions {
  timeout: number;
  wait: boolean;
  dryRun?: boolean;
  print?: boolean;
  force?: boolean;
}

type CrdModule = typeof import('../members/crd.js');

/** What every step of install-crd works with. */
interface Install {
  ctx: RunContext;
  kube: Kube;
  crd: CrdModule;
  manifest: Crd;
  deadline: Deadline;
  options: InstallOptions;
}

export function installCrdCommand(): Command {
  return new Command('install-crd')
    .description('install or update the Member CustomResourceDefinition (server-side apply) and wait until it is served')
    .addOption(
      new Option('--timeout <duration>', 'how long to wait, for every step together (0: check once)')
        .default(60_000, '60s')
        .argParser(parseDuration),
    )
    .option('--no-wait', 'return as soon as the API server accepted the CRD')
    .option('--dry-run', 'server-side dry run: print what would change, change nothing')
    .option('--force', 'update the CRD even when existing Members do not fit its schema')
    .option('--print', 'print the manifest to stdout and contact no cluster')
    .addHelpText(
      'after',
      `
Before an update changes the schema (as the first run over the original operator's schemaless CRD does), every
Member is checked against it; if some do not fit, they are listed and nothing is changed (exit 2) unless --force.

Examples:
  member-watch install-crd
  member-watch install-crd --dry-run
  member-watch install-crd --print | kubectl apply -f -`,
    )
    .action(async (options: InstallOptions, cmd: Command) => {
      const ctx = runContext(cmd);
      const crd = await import('../members/crd.js');
      const text = await crd.readCrdManifest();
      if (options.print) {
        ctx.term.stdout.write(text);
        return;
      }
      const manifest = await crd.parseCrdManifest(text);
      const kube = await ctx.kube();
      await install({ ctx, kube, crd, manifest, deadline: new crd.Deadline(options.timeout), options });
    });
}

async function install(run: Install): Promise<void> {
  const { crd, kube, manifest, options } = run;
  let existing = await crd.getCrd(kube);
  if (existing?.metadata.deletionTimestamp !== undefined) {
    if (options.dryRun) return reportTerminating(run);
    await outwaitDeletion(run);
    existing = undefined;
  }
  if (existing !== undefined || options.dryRun) {
    const planned = await crd.applyCrd(kube, manifest, true);
    if (existing !== undefined && crd.changesWhatMembersMustFit(planned.changes)) await checkMembersFirst(run);
    if (options.dryRun) {
      const { formatChange } = await import('../present/diff.js');
      run.ctx.term.result(`${LABEL} would be ${planned.outcome} (server dry run)`);
      for (const change of planned.changes) run.ctx.term.result(`  ${formatChange(change)}`);
      return;
    }
  }
  await applyAndWait(run);
}

async function applyAndWait(run: Install): Promise<void> {
  const { crd, kube, manifest, options } = run;
  const result = await crd.applyCrd(kube, manifest, false);
  // Nothing to wait for (an unchanged CRD, already served) means nothing to say about waiting.
  if (options.wait && !(await crd.isServed(kube, result.object))) await waitUntilServed(run, result.outcome);
  run.ctx.term.result(`${LABEL} ${result.outcome}`);
  if (!result.selectable) run.ctx.term.notice(NOT_SELECTABLE);
}

const NOT_SELECTABLE =
  'this API server cannot select members by team (spec.memberOf is selectable from Kubernetes 1.31 on): `watch --team` selects them itself';

async function waitUntilServed(run: Install, outcome: string): Promise<void> {
  const progress = await run.ctx.term.progress(`${LABEL} ${outcome}`);
  try {
    await run.crd.waitForCrd(run.kube, run.deadline, (step) => progress.update(step));
  } catch (err) {
    progress.fail(`${LABEL} not ready`);
    throw err;
  }
  progress.stop();
}

/**
 * A schema that changes decides which stored Members still fit: the API server would refuse the next write of
 * one that does not, and drop the fields it does not know, from every read at once. So every Member is checked
 * first, while the old CRD still shows all of it, and nothing is changed unless all fit or --force says so.
 */
async function checkMembersFirst(run: Install): Promise<void> {
  const { ctx, crd, manifest, options } = run;
  const { misfitLines, fixHint } = await import('../present/fit.js');
  const schema = crd.storageSchema(manifest);
  if (schema === undefined) throw new CliError(ExitCode.Internal, `${crd.CRD_FILE} has no schema for its storage version`);
  const progress = await ctx.term.progress('checking every Member against the new schema');
  const report = await checkServedMembers(run, schema).finally(() => progress.stop());
  if (report.misfits.length === 0) {
    ctx.term.notice(`${members(report.checked)} checked: every one fits the new schema`);
    return;
  }
  for (const line of misfitLines(report.misfits)) ctx.term.result(line);
  const summary = `${report.misfits.length} of ${members(report.checked)} ${report.misfits.length === 1 ? 'does' : 'do'} not fit the new schema`;
  if (options.force) {
    ctx.term.warn(`${summary}; going on because of --force: what is listed is dropped or refused at each member's next write`);
    return;
  }
  throw new CliError(ExitCode.Usage, `${summary}; nothing was changed`, {
    hint: `${fixHint(false, report.misfits)}; or run install-crd --force`,
  });
}

async function checkServedMembers(run: Install, schema: SchemaNode): Promise<CheckReport> {
  const { checkMembers } = await import('../members/check.js');
  // A CRD someone else created a moment ago may not serve its members yet: that is a wait, not "not installed".
  await run.deadline.poll('the Member CRD to serve members', async () => run.crd.isServed(run.kube, await run.crd.getCrd(run.kube)));
  return checkMembers(run.kube, schema, undefined);
}

/** A CRD being deleted is not installed: its members go with it. Create it anew once the deletion has ended. */
async function outwaitDeletion(run: Install): Promise<void> {
  const progress = await run.ctx.term.progress(`${LABEL} is being deleted: waiting for the deletion to end`);
  try {
    await run.crd.waitUntilDeleted(run.kube, run.deadline);
  } catch (err) {
    progress.fail(`${LABEL} is still being deleted`);
    throw await explainStuckDeletion(run.kube, err);
  }
  progress.stop();
}

async function reportTerminating(run: Install): Promise<void> {
  run.ctx.term.result(`${LABEL} is being deleted: it would be created once the deletion ends (server dry run)`);
  const { finalizerHolders } = await import('../members/finalizers.js');
  const { describeHolders } = await import('../present/fit.js');
  const holders = await finalizerHolders(run.kube);
  if (holders.length > 0) run.ctx.term.notice(`the deletion waits for members held by finalizers: ${describeHolders(holders)}`);
}

/** A timed-out wait for a deletion names what holds it: the members' finalizers, or the API server's own work. */
async function explainStuckDeletion(kube: Kube, err: unknown): Promise<unknown> {
  if (!(err instanceof CliError && err.exitCode === ExitCode.Timeout)) return err;
  const { finalizerHolders } = await import('../members/finalizers.js');
  const { describeHolders } = await import('../present/fit.js');
  const holders = await finalizerHolders(kube);
  if (holders.length === 0) {
    return new CliError(
      ExitCode.Timeout,
      `${err.message}: no member holds a finalizer any more; the API server is still deleting members`,
      {
        hint: 'run the command again with a longer --timeout',
      },
    );
  }
  const ours = holders.some((h) => h.finalizers.includes(FINALIZER));
  return new CliError(ExitCode.Timeout, `${err.message}: ${members(holders.length)} held by finalizers: ${describeHolders(holders)}`, {
    hint: ours
      ? `\`member-watch uninstall-crd --yes\` removes the operator's finalizer ${FINALIZER}; others are removed by whoever added them`
      : 'those finalizers are removed by whoever added them, or by hand: kubectl patch member NAME -n NAMESPACE --type json -p \'[{"op":"remove","path":"/metadata/finalizers"}]\'',
  });
}

interface UninstallOptions {
  yes?: boolean;
  wait: boolean;
  timeout: number;
}

/** While the CRD is being deleted, the operator's finalizer is released again at most this often. */
const RELEASE_EVERY_MS = 2000;
/** How long a member being deleted is left to a running operator's goodbye before uninstall-crd lets it go. */
const GRACE_MS = 5000;
/** How long the API server may take to mark every member deleted once the CRD is. */
const MARKING_MS = 10_000;

export function uninstallCrdCommand(): Command {
  return new Command('uninstall-crd')
    .description('delete the Member CustomResourceDefinition, and with it every Member in every namespace')
    .option('--yes', 'confirm: every Member in the cluster is deleted with the CRD')
    .option('--no-wait', 'return as soon as the deletion was accepted')
    .addOption(
      new Option('--timeout <duration>', 'how long to wait for the CRD to be gone (0: check once)')
        .default(60_000, '60s')
        .argParser(parseDuration),
    )
    .addHelpText(
      'after',
      `
The operator's finalizer (${FINALIZER}) is removed from every Member being deleted with the CRD, so that the
deletion can end: a running operator first gets ${GRACE_MS / 1000}s per member to say its goodbye and remove it
itself. Other finalizers are left to whoever added them, and named if the wait times out. A CRD that is not
installed is reported as such (exit 0).

Example:
  member-watch uninstall-crd --yes`,
    )
    .action(async (options: UninstallOptions, cmd: Command) => {
      const ctx = runContext(cmd);
      if (!options.yes) {
        throw new CliError(ExitCode.Usage, 'uninstall-crd deletes every Member in every namespace; refusing without --yes', {
          hint: 'run `member-watch uninstall-crd --yes` to confirm',
        });
      }
      const crd = await import('../members/crd.js');
      const kube = await ctx.kube();
      const installed = await crd.getCrd(kube);
      if (installed === undefined) {
        ctx.term.result(`${LABEL} is not installed: nothing to delete`);
        return;
      }
      const progress = await ctx.term.progress(`deleting ${LABEL}`);
      try {
        // Waiting, a running operator gets its grace; checking once (--timeout 0s, --no-wait), there is no time for it.
        const graceMs = options.wait ? Math.min(GRACE_MS, options.timeout / 2) : 0;
        const release = await finalizerReleaser(ctx, kube, graceMs, async () => {
          if (installed.metadata.deletionTimestamp === undefined) await crd.deleteCrd(kube);
        });
        await release();
        if (options.wait) await crd.waitUntilDeleted(kube, new crd.Deadline(options.timeout), release);
        release.report();
      } catch (err) {
        throw await explainStuckDeletion(kube, err);
      } finally {
        progress.stop();
      }
      ctx.term.result(`${LABEL} deleted`);
    });
}

/**
 * Deletes the CRD (`deleteCrd`), then releases the operator's finalizer from the Members being deleted and reports
 * it; called again while the deletion goes on (at most every RELEASE_EVERY_MS). `report()` says how many members someone else let go meanwhile.
 */
async function finalizerReleaser(
  ctx: RunContext,
  kube: Kube,
  graceMs: number,
  deleteCrd: () => Promise<void>,
): Promise<(() => Promise<void>) & { report(): void }> {
  const { DeletionRelease } = await import('../members/finalizers.js');
  const deletion = new DeletionRelease(kube, graceMs);
  await deletion.before();
  await deleteCrd();
  await deletion.untilMarked(MARKING_MS);
  const warned = new Set<string>();
  let last = Number.NEGATIVE_INFINITY;
  const release = async (): Promise<void> => {
    if (Date.now() - last < RELEASE_EVERY_MS) return;
    last = Date.now();
    let released = 0;
    try {
      const report = await deletion.release(() => (released += 1));
      for (const { namespace, name, message } of report.failed) {
        const key = `${namespace}/${name}`;
        if (!warned.has(key)) ctx.term.warn(`could not remove finalizer ${FINALIZER} from ${key}: ${message}`);
        warned.add(key);
      }
    } finally {
      // Said also when a later member failed: every removal made is reported.
      if (released > 0) ctx.term.result(`finalizer ${FINALIZER} removed from ${members(released)}`);
    }
  };
  const report = (): void => {
    const others = deletion.letGoByOthers;
    if (others > 0) ctx.term.notice(`${members(others)} let go meanwhile by someone else (a running operator, with its goodbye)`);
  };
  return Object.assign(release, { report });
}
