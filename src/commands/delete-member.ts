import { Command, Option } from 'commander';
import { CliError, ExitCode, usageError } from '../errors.js';
import type { WriteFailure } from '../kube/apply.js';
import type { Kube } from '../kube/client.js';
import { mapLimit, NOT_STARTED, type NotStarted } from '../kube/parallel.js';
import type { DeleteResult, Deleted } from '../members/delete.js';
import { heldBy, nameList } from '../members/names.js';
import { checkName } from '../members/validate.js';
import { memberRef, type WriteTally } from '../present/objects.js';
import { type RunContext, runContext } from './context.js';
import { parseDuration } from './parse.js';
import { failureLine, singleFailure, WriteRun } from './write-run.js';

interface DeleteOptions {
  all?: boolean;
  ignoreNotFound?: boolean;
  wait?: boolean;
  timeout?: number;
}

const CONCURRENCY = 16;
// How long --wait waits when no --timeout is given.
const DEFAULT_WAIT_MS = 60_000;

export function deleteMemberCommand(): Command {
  return new Command('delete-member')
    .description('delete Members by name, or every Member in the namespace')
    .argument('[names...]', 'the Members to delete')
    .option('--all', 'delete every Member in the namespace')
    .option('--ignore-not-found', 'a Member that does not exist is not an error')
    .option('--wait', 'wait until the Members are gone (they may have finalizers)')
    .addOption(
      new Option(
        '--timeout <duration>',
        'limit for the whole command, deletes and --wait (default: none for the deletes, 60s for --wait); 0: no limit for the deletes, --wait checks once',
      ).argParser(parseDuration),
    )
    .addHelpText(
      'after',
      `
Each member is reported as it is deleted. After a failure no further delete starts, and the command says how
many were and were not deleted (exit 3; 5 past --timeout).

Examples:
  member-watch delete-member patrick
  member-watch delete-member patrick sandy --wait --timeout 30s
  member-watch delete-member --all -n crew`,
    )
    .action(async (names: string[], options: DeleteOptions, cmd: Command) => {
      const ctx = runContext(cmd);
      if ((options.all === true) === names.length > 0) throw usageError('give member NAMEs or --all, not both and not neither');
      for (const name of names) checkName(name);
      const kube = await ctx.kube();
      const run = new WriteRun(options.timeout);
      const started = performance.now();
      try {
        // The same name twice is one member: deleting it once is all that was asked.
        const targets = options.all ? await allMembers(kube, run, ctx) : [...new Set(names)];
        const deleted = await deleteEach(targets, kube, run, ctx);
        run.writesDone();
        const limitMs = options.timeout ?? DEFAULT_WAIT_MS;
        const waitMs = options.timeout === undefined ? DEFAULT_WAIT_MS : options.timeout - (performance.now() - started);
        if (options.wait) await waitFor(deleted, kube, { timeoutMs: Math.max(0, waitMs), limitMs, signal: run.cutOff });
        const missing = targets.filter((name) => !deleted.some((d) => d.name === name));
        if (missing.length > 0 && !options.ignoreNotFound) throw notFound(missing, kube.namespace);
      } finally {
        run.finish();
      }
    });
}

async function allMembers(kube: Kube, run: WriteRun, ctx: RunContext): Promise<string[]> {
  const { memberNames } = await import('../members/delete.js');
  const names = await memberNames(kube, kube.namespace, run.cutOff).catch((err: unknown) => {
    throw run.explainCut(err);
  });
  // As kubectl says "No resources found": an empty namespace is not an error, but it should not look like one.
  if (names.length === 0) ctx.term.notice(`no members in namespace ${kube.namespace}`);
  return names;
}

/** Deletes with up to CONCURRENCY in flight, each reported as it happens; returns the members deleted. */
async function deleteEach(targets: string[], kube: Kube, run: WriteRun, ctx: RunContext): Promise<Deleted[]> {
  const { deleteMember } = await import('../members/delete.js');
  const namespace = kube.namespace;
  const results = await mapLimit(
    targets,
    CONCURRENCY,
    async (name) => {
      const result = await deleteMember(kube, namespace, name, run.cutOff);
      if (result.kind === 'deleted') ctx.term.result(deletedLine(name, result.heldBy));
      if (result.kind === 'failed') {
        run.fail(result);
        const line = targets.length > 1 ? failureLine(`member ${name}`, result) : undefined;
        if (line !== undefined) ctx.term.error(line);
      }
      return result;
    },
    run.stopped,
  );
  const summary = run.summary('deleted', tallyOf(targets, results));
  if (summary !== undefined)
    throw targets.length === 1
      ? singleFailure(summary, failureOf(results[0]), `member ${targets[0]} may or may not have been deleted`)
      : summary;
  return targets.flatMap((name, i) => {
    const result = results[i];
    return result !== NOT_STARTED && result?.kind === 'deleted' ? [{ name, uid: result.uid }] : [];
  });
}

/** A member held by finalizers is not deleted yet: it stays, Terminating, until whoever added them removes them. */
function deletedLine(name: string, held: string[]): string {
  if (held.length === 0) return `${memberRef(name)} deleted`;
  return `${memberRef(name)} is being deleted${heldBy(held)}: it stays until ${held.length > 1 ? 'they are' : 'that is'} removed`;
}

function failureOf(result: DeleteResult | NotStarted | undefined): WriteFailure | undefined {
  return result !== undefined && result !== NOT_STARTED && result.kind === 'failed' ? result : undefined;
}

function tallyOf(targets: string[], results: Array<DeleteResult | NotStarted>): WriteTally {
  const tally: WriteTally = { done: [], notDone: [], unknown: [] };
  targets.forEach((name, i) => {
    const result = results[i];
    if (result === NOT_STARTED || result === undefined) tally.notDone.push(name);
    else if (result.kind === 'deleted') tally.done.push(name);
    else if (result.kind === 'failed') (result.mayHaveChanged ? tally.unknown : tally.notDone).push(name);
  });
  return tally;
}

async function waitFor(deleted: Deleted[], kube: Kube, limits: { timeoutMs: number; limitMs: number; signal: AbortSignal }): Promise<void> {
  if (deleted.length === 0) return;
  const { waitUntilGone } = await import('../members/delete.js');
  await waitUntilGone(kube, kube.namespace, deleted, limits);
}

function notFound(missing: string[], namespace: string): CliError {
  return new CliError(ExitCode.Cluster, `member${missing.length > 1 ? 's' : ''} ${nameList(missing)} not found in namespace ${namespace}`, {
    hint: 'pass --ignore-not-found if that is fine',
  });
}
