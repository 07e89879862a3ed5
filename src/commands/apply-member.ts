import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { fileProblem, unreadableFile, usageError } from '../errors.js';
import type { WriteFailure } from '../kube/apply.js';
import type { Kube } from '../kube/client.js';
import { mapLimit, NOT_STARTED, type NotStarted } from '../kube/parallel.js';
import type { ApplyResult } from '../members/apply.js';
import { type MemberDraft, parseMemberDocuments } from '../members/manifest.js';
import type { MemberObject } from '../members/resource.js';
import { checkName, checkTeam } from '../members/validate.js';
import { escapeControl } from '../present/escape.js';
import { formatObjects, memberRef, type ObjectFormat, type WriteTally } from '../present/objects.js';
import { type RunContext, runContext } from './context.js';
import { collectLabel, parseDuration } from './parse.js';
import { failureLine, singleFailure, WriteRun } from './write-run.js';

interface ApplyOptions {
  team?: string;
  label?: Record<string, string>;
  filename?: string;
  dryRun?: boolean;
  output?: ObjectFormat;
  showManagedFields?: boolean;
  timeout?: number;
}

// Enough to keep a remote API server busy without tripping its priority-and-fairness limits.
const CONCURRENCY = 16;

export function applyMemberCommand(): Command {
  return new Command('apply-member')
    .description('create or update Members: one by name, or every Member in a file')
    .argument('[name]', 'the Member to create or update')
    .option('--team <team>', 'the team (spec.memberOf); without it the member has no team')
    .option('-l, --label <key=value>', "a label; repeatable; the member's labels become exactly these", collectLabel)
    .option('-f, --filename <file>', 'a YAML or JSON file of Members (several documents, or a List); - reads stdin')
    .option('--dry-run', 'server-side dry run: validate and report, change nothing')
    .addOption(new Option('-o, --output <format>', 'print the applied objects instead of a summary').choices(['name', 'json', 'yaml']))
    .option('--show-managed-fields', 'with -o json|yaml, keep metadata.managedFields (hidden by default, as kubectl does)')
    .addOption(
      new Option(
        '--timeout <duration>',
        'limit for the whole command (default: none; each request gives up after 30s of silence)',
      ).argParser(parseDuration),
    )
    .addHelpText(
      'after',
      `
A member gets exactly the team and labels given, whoever set them before. Documents for the same member are
applied in file order (the last wins). After a failure that concerns the cluster (unreachable, timed out, the CRD
missing or being deleted) no further member is applied, and the command says which were and were not.

Examples:
  member-watch apply-member patrick --team blue
  member-watch apply-member patrick -l role=lead -n crew
  member-watch apply-member -f members.yaml --timeout 2m
  kubectl get members -o yaml | member-watch apply-member -f -`,
    )
    .action(async (name: string | undefined, options: ApplyOptions, cmd: Command) => {
      const ctx = runContext(cmd, { machine: options.output === 'json' || options.output === 'yaml' });
      const located = await draftsFrom(name, options, ctx);
      const kube = await ctx.kube();
      const run = new WriteRun(options.timeout);
      try {
        await applyAll(located, { kube, ctx, options, run, fromFile: name === undefined });
      } finally {
        run.finish();
      }
    });
}

type Located = { where: string; draft: MemberDraft };

async function draftsFrom(name: string | undefined, options: ApplyOptions, ctx: RunContext): Promise<Located[]> {
  if (name !== undefined && options.filename !== undefined) throw usageError('give a member NAME or -f FILE, not both');
  if (name !== undefined) return [draftFromFlags(name, options)];
  if (options.filename === undefined) throw usageError('missing member NAME (or -f FILE)', 'see `member-watch apply-member --help`');
  if (options.team !== undefined || options.label !== undefined) throw usageError('--team and -l apply to a NAME, not to -f FILE');
  return draftsFromFile(options.filename, ctx);
}

function draftFromFlags(name: string, options: ApplyOptions): Located {
  checkName(name);
  if (options.team !== undefined) checkTeam(options.team);
  return { where: `member ${name}`, draft: { name, team: options.team, labels: options.label } };
}

/** Every document is checked before anything is applied: a bad file changes nothing. */
async function draftsFromFile(filename: string, ctx: RunContext): Promise<Located[]> {
  const source = filename === '-' ? 'stdin' : filename;
  const text = await readSource(filename, ctx);
  // Node gives a closed stdin the empty /dev/null: the two cannot be told apart, and neither holds documents.
  if (filename === '-' && text === '')
    throw usageError(
      'stdin is empty (closed, /dev/null, or nothing was piped in)',
      'pipe Members in: `kubectl get members -o yaml | member-watch apply-member -f -`',
    );
  const parsed = await parseMemberDocuments(text, source);
  const bad = parsed.flatMap((p) => (p.problem === undefined ? [] : [`${p.where}: ${p.problem}`]));
  const good = parsed.flatMap((p) => (p.problem === undefined ? [{ where: p.where, draft: p.draft }] : []));
  const flag = ctx.namespaceFlag;
  for (const { where, draft } of good) {
    if (flag !== undefined && draft.namespace !== undefined && draft.namespace !== flag) {
      bad.push(`${where}: its namespace ${draft.namespace} differs from --namespace ${flag}`);
    }
  }
  if (bad.length > 0) {
    for (const line of bad.slice(0, -1)) ctx.term.error(escapeControl(line));
    throw usageError(escapeControl(bad[bad.length - 1] ?? ''), 'nothing was applied; fix the file and run again');
  }
  if (good.length === 0) throw usageError(`${source} holds no Members`);
  return good;
}

async function readSource(filename: string, ctx: RunContext): Promise<string> {
  try {
    return filename === '-' ? await readStdin(ctx) : await readFile(filename, 'utf8');
  } catch (err) {
    throw usageError(filename === '-' ? `cannot read stdin: ${fileProblem(err)}` : unreadableFile(filename, err));
  }
}

async function readStdin(ctx: RunContext): Promise<string> {
  if (process.stdin.isTTY) ctx.term.notice('reading Members from the terminal; end with Ctrl-D');
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text;
}

interface Env {
  kube: Kube;
  ctx: RunContext;
  options: ApplyOptions;
  run: WriteRun;
  fromFile: boolean;
}

type Target = Located & { namespace: string };
type Result = ApplyResult | 'skipped' | NotStarted;

async function applyAll(located: Located[], env: Env): Promise<void> {
  const { kube, run, options } = env;
  const { applyMember, checkCrdTakesMembers } = await import('../members/apply.js');
  await checkCrdTakesMembers(kube, run.cutOff).catch((err: unknown) => {
    throw run.explainCut(err);
  });
  const targets: Target[] = located.map((l) => ({ ...l, namespace: l.draft.namespace ?? kube.namespace }));
  // Lines of a file that spans namespaces say which member they are about.
  const spans = targets.some((t) => t.namespace !== targets[0]?.namespace);
  const lines = new InOrder((target, result) => report(target, result, env, spans));
  // Documents for the same member are applied one after the other, in file order: the last one wins, and each
  // line says what that document did. Items start in file order, so each finds its predecessor already queued.
  const queues = new Map<string, Promise<unknown>>();
  const results = await mapLimit(
    targets,
    CONCURRENCY,
    async (target, i) => {
      const key = `${target.namespace}/${target.draft.name}`;
      const result = (queues.get(key) ?? Promise.resolve()).then(async (): Promise<Result> => {
        // A document that waited for an earlier one of its member does not start once the run has stopped.
        if (run.stopped.aborted) return 'skipped';
        const applied = await applyMember(kube, {
          draft: target.draft,
          namespace: target.namespace,
          dryRun: options.dryRun === true,
          cutOff: run.cutOff,
        });
        if (!applied.ok && !applied.aboutTheObject) run.fail(applied);
        return applied;
      });
      queues.set(key, result);
      lines.settle(i, target, await result);
      return result;
    },
    run.stopped,
  );
  lines.rest();
  await finish(targets, results, env);
}

/** Result lines in file order, each as soon as every earlier document is done: live and stable. */
class InOrder {
  private readonly settled: Array<{ target: Target; result: Result } | undefined> = [];
  private printed = 0;

  constructor(private readonly emit: (target: Target, result: Result) => void) {}

  settle(index: number, target: Target, result: Result): void {
    this.settled[index] = { target, result };
    for (let next = this.settled[this.printed]; next !== undefined; next = this.settled[++this.printed])
      this.emit(next.target, next.result);
  }

  /** After a stop, what settled behind a document that never started is printed too. */
  rest(): void {
    for (const next of this.settled.slice(this.printed)) if (next !== undefined) this.emit(next.target, next.result);
    this.printed = this.settled.length;
  }
}

function report(target: Target, result: Result, env: Env, spans: boolean): void {
  const { ctx, options } = env;
  if (result === 'skipped' || result === NOT_STARTED) return;
  if (!result.ok) {
    // A single member's error ends the command; in a file each is said where it happens.
    const line = env.fromFile ? failureLine(target.where, result) : undefined;
    if (line !== undefined) ctx.term.error(escapeControl(line));
    return;
  }
  const ref = memberRef(result.object.metadata.name);
  if (options.output === 'name') ctx.term.result(ref);
  if (options.output !== undefined) return;
  const where = spans ? ` in namespace ${target.namespace}` : '';
  ctx.term.result(`${ref} ${result.outcome}${where}${options.dryRun ? ' (server dry run)' : ''}`);
}

async function finish(targets: Target[], results: Result[], env: Env): Promise<void> {
  const { ctx, options, run } = env;
  const applied = results.flatMap((r): MemberObject[] => (typeof r === 'object' && r.ok ? [r.object] : []));
  if ((options.output === 'json' || options.output === 'yaml') && (applied.length > 0 || targets.length > 1)) {
    // What was applied, even when not all was: as a List whenever several members were asked for.
    const format = { asList: targets.length > 1, showManagedFields: options.showManagedFields === true };
    ctx.term.result(await formatObjects(applied, options.output, format));
  }
  const failures = results.flatMap((r): WriteFailure[] => (typeof r === 'object' && !r.ok ? [r] : []));
  const summary = run.summary('applied', tallyOf(targets, results), failures[0]);
  if (summary === undefined) return;
  if (targets.length > 1) throw summary;
  throw singleFailure(summary, failures[0], `member ${targets[0]?.draft.name ?? ''} may or may not have been applied`);
}

function tallyOf(targets: Target[], results: Result[]): WriteTally {
  const spans = targets.some((t) => t.namespace !== targets[0]?.namespace);
  const tally: WriteTally = { done: [], notDone: [], unknown: [] };
  targets.forEach((target, i) => {
    const result = results[i];
    const name = spans ? `${target.namespace}/${target.draft.name}` : target.draft.name;
    if (typeof result !== 'object') tally.notDone.push(name);
    else if (result.ok) tally.done.push(name);
    else (result.mayHaveChanged ? tally.unknown : tally.notDone).push(name);
  });
  return tally;
}
