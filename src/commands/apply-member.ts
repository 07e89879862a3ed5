import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { CliError, ExitCode, usageError } from '../errors.js';
import type { Applied } from '../kube/apply.js';
import type { Kube } from '../kube/client.js';
import { mapLimit } from '../kube/parallel.js';
import { type MemberDraft, memberManifest, parseMemberDocuments } from '../members/manifest.js';
import { type MemberObject, RESOURCE } from '../members/resource.js';
import { checkName, checkTeam } from '../members/validate.js';
import { escapeControl } from '../present/escape.js';
import { formatObjects, memberRef, type ObjectFormat } from '../present/objects.js';
import { type RunContext, runContext } from './context.js';
import { collectLabel } from './parse.js';

interface ApplyOptions {
  team?: string;
  label?: Record<string, string>;
  filename?: string;
  dryRun?: boolean;
  output?: ObjectFormat;
}

// Enough to keep a remote API server busy without tripping its priority-and-fairness limits.
const CONCURRENCY = 16;

export function applyMemberCommand(): Command {
  return new Command('apply-member')
    .description('create or update Members (server-side apply): one by name, or every Member in a file')
    .argument('[name]', 'the Member to create or update')
    .option('--team <team>', 'the team (spec.memberOf); without it the member has no team')
    .option('-l, --label <key=value>', 'a label to set; repeatable', collectLabel)
    .option('-f, --filename <file>', 'a YAML or JSON file of Members (several documents, or a List); - reads stdin')
    .option('--dry-run', 'server-side dry run: validate and report, change nothing')
    .addOption(new Option('-o, --output <format>', 'print the applied objects instead of a summary').choices(['name', 'json', 'yaml']))
    .addHelpText(
      'after',
      `
Examples:
  member-watch apply-member patrick --team blue
  member-watch apply-member patrick -l role=lead -n crew
  member-watch apply-member -f members.yaml
  kubectl get members -o yaml | member-watch apply-member -f -`,
    )
    .action(async (name: string | undefined, options: ApplyOptions, cmd: Command) => {
      const ctx = runContext(cmd, { machine: options.output === 'json' || options.output === 'yaml' });
      const drafts = await draftsFrom(name, options, ctx);
      const kube = await ctx.kube();
      await applyAll(drafts, kube, ctx, options);
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
  const parsed = await parseMemberDocuments(await readSource(filename), source);
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

async function readSource(filename: string): Promise<string> {
  try {
    return filename === '-' ? await readStdin() : await readFile(filename, 'utf8');
  } catch (err) {
    throw usageError(`cannot read ${filename}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

async function readStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text;
}

type Outcome = { where: string; applied: Applied<MemberObject> } | { where: string; error: CliError };

async function applyAll(
  drafts: Array<{ where: string; draft: MemberDraft }>,
  kube: Kube,
  ctx: RunContext,
  options: ApplyOptions,
): Promise<void> {
  const { applyMember } = await import('../members/apply.js');
  const done: Array<Outcome | undefined> = [];
  let printed = 0;
  // Lines come in file order as soon as every earlier member is done, so output is both live and stable.
  const flush = (): void => {
    for (let next = done[printed]; next !== undefined; next = done[++printed]) report(next, ctx, options);
  };
  // Without the CRD every member fails alike: one error for the whole file, not one per member.
  let crdMissing: CliError | undefined;
  const outcomes = await mapLimit(drafts, CONCURRENCY, async ({ where, draft }, i) => {
    if (crdMissing) return (done[i] = { where, error: crdMissing });
    const manifest = memberManifest(draft, draft.namespace ?? kube.namespace);
    let outcome: Outcome;
    try {
      outcome = { where, applied: await applyMember(kube, manifest, options.dryRun === true) };
    } catch (err) {
      const error = kube.explain(err, { verb: 'patch', resource: RESOURCE });
      if (error.exitCode === ExitCode.CrdMissing) crdMissing ??= error;
      outcome = { where, error };
    }
    done[i] = outcome;
    if (drafts.length > 1 && !crdMissing) flush();
    return outcome;
  });
  if (crdMissing) {
    // Members applied before the CRD went away are still reported.
    for (const outcome of done.slice(printed)) if (outcome && 'applied' in outcome) report(outcome, ctx, options);
    throw crdMissing;
  }
  const objects = outcomes.flatMap((o) => ('applied' in o ? [o.applied.object] : []));
  if ((options.output === 'json' || options.output === 'yaml') && objects.length > 0)
    ctx.term.result(await formatObjects(objects, options.output));
  const failures = outcomes.flatMap((o) => ('error' in o ? [o.error] : []));
  if (drafts.length === 1) {
    if (failures[0] !== undefined) throw failures[0];
    flush();
  } else if (failures.length > 0) {
    const first = failures[0] as CliError;
    throw new CliError(first.exitCode, `${failures.length} of ${outcomes.length} members failed to apply`, { hint: first.hint });
  }
}

function report(outcome: Outcome, ctx: RunContext, options: ApplyOptions): void {
  if ('error' in outcome) {
    ctx.term.error(`${outcome.where}: ${outcome.error.message}`);
    return;
  }
  const ref = memberRef(outcome.applied.object.metadata.name);
  if (options.output === 'name') ctx.term.result(ref);
  else if (options.output === undefined) {
    ctx.term.result(`${ref} ${outcome.applied.outcome}${options.dryRun ? ' (server dry run)' : ''}`);
  }
}
