import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Argument, Command, type Option } from 'commander';
import type { Kube } from '../kube/client.js';
import type { ConnectionFlags } from '../kube/config.js';
import { packageRoot } from '../paths.js';
import { Terminal } from '../present/terminal.js';
import { runContext } from './context.js';

/**
 * The hidden command the shell scripts call with the words typed so far (the last one is the word being
 * completed), as cobra's programs and kubectl do: kubectl runs `kubectl_complete-member_watch` (bin/) the same
 * way for `kubectl member-watch <TAB>`. It prints one candidate a line (`value<TAB>description`), then
 * `:DIRECTIVE`, cobra's bit set.
 */
export const COMPLETE = '__complete';

export const Directive = { Default: 0, NoFileComp: 4 } as const;

export interface Candidate {
  value: string;
  description?: string;
}

export interface Completion {
  candidates: Candidate[];
  /** Directive.Default lets the shell complete file names when there is no candidate. */
  directive: number;
}

/** Where dynamic values come from: the kubeconfig and the cluster, as the words typed so far select them. */
export interface CompletionSources {
  contexts(flags: ConnectionFlags): Promise<string[]>;
  namespaces(flags: ConnectionFlags): Promise<string[]>;
  members(flags: ConnectionFlags): Promise<string[]>;
}

const SHELLS = ['bash', 'zsh', 'fish'];
// Options whose value is a path: the shell completes file names.
const FILE_OPTIONS = new Set(['kubeconfig', 'filename', 'readyFile']);
const MEMBER_ARGUMENTS = new Set(['apply-member', 'delete-member']);
// A Tab press must not hang on a cluster that does not answer.
const CLUSTER_WAIT_MS = 3000;

export function completionCommand(): Command {
  return new Command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText(
      'after',
      `
Completes commands, flags, --context from the kubeconfig, and -n and member names from the cluster.

Examples:
  source <(member-watch completion bash)          # in ~/.bashrc
  source <(member-watch completion zsh)           # in ~/.zshrc, after compinit
  member-watch completion fish > ~/.config/fish/completions/member-watch.fish

As a kubectl plugin (kubectl 1.26+), \`kubectl member-watch <TAB>\` completes through kubectl's own completion:
the package installs kubectl_complete-member_watch beside kubectl-member_watch.`,
    )
    .action(async (shell: string, _options: unknown, cmd: Command) => {
      // Shipped as shell files (completions/), which shells and their linters read as they are.
      runContext(cmd).term.stdout.write(await readFile(path.join(packageRoot, 'completions', `member-watch.${shell}`), 'utf8'));
    });
}

/** `__complete WORD... CURRENT`: prints the candidates for CURRENT. */
export async function complete(program: Command, words: string[]): Promise<void> {
  const { candidates, directive } = await completeWords(program, words, clusterSources());
  const lines = candidates.map((c) => (c.description === undefined ? c.value : `${c.value}\t${c.description}`));
  const term = new Terminal({ stdout: process.stdout, stderr: process.stderr, color: 0, spinner: false });
  term.result([...lines, `:${directive}`].join('\n'));
}

/** What was typed before the current word: the command it selects, the connection flags, a flag awaiting its value. */
interface Parsed {
  command: Command;
  /** After `help`: the word names a command. */
  helpTopic: boolean;
  flags: ConnectionFlags;
  pending: Option | undefined;
  positionals: string[];
}

export async function completeWords(program: Command, words: string[], sources: CompletionSources): Promise<Completion> {
  const current = words[words.length - 1] ?? '';
  const parsed = parseWords(program, words.slice(0, -1));
  if (parsed.pending) return completeValue(parsed.pending, { value: current, prefix: '' }, parsed, sources);
  const eq = current.indexOf('=');
  if (current.startsWith('--') && eq > 0) {
    const option = findOption(parsed.command, current.slice(0, eq));
    if (option) return completeValue(option, { value: current.slice(eq + 1), prefix: current.slice(0, eq + 1) }, parsed, sources);
  }
  if (current.startsWith('-')) return matching(current, flagCandidates(parsed.command), Directive.NoFileComp);
  if (parsed.command === program || parsed.helpTopic) {
    const names = program.commands.map((c) => ({ value: c.name(), description: c.description() }));
    const help = parsed.helpTopic ? [] : [{ value: 'help', description: 'help for a command' }];
    return matching(current, [...names, ...help], Directive.NoFileComp);
  }
  return completeArgument(parsed, current, sources);
}

function parseWords(program: Command, words: string[]): Parsed {
  const parsed: Parsed = { command: program, helpTopic: false, flags: {}, pending: undefined, positionals: [] };
  for (const word of words) {
    if (parsed.pending) {
      remember(parsed, parsed.pending, word);
      parsed.pending = undefined;
    } else if (word.startsWith('-') && word.length > 1) {
      readFlag(parsed, word);
    } else if (parsed.command === program && !parsed.helpTopic) {
      const sub = program.commands.find((c) => c.name() === word || c.aliases().includes(word));
      if (sub) parsed.command = sub;
      else parsed.helpTopic = word === 'help';
    } else {
      parsed.positionals.push(word);
    }
  }
  return parsed;
}

function readFlag(parsed: Parsed, word: string): void {
  const eq = word.indexOf('=');
  const option = findOption(parsed.command, eq > 0 ? word.slice(0, eq) : word);
  if (option === undefined) return;
  if (eq > 0) remember(parsed, option, word.slice(eq + 1));
  else if (option.required || option.optional) parsed.pending = option;
}

/** The connection flags typed so far decide where contexts, namespaces and members are read. */
function remember(parsed: Parsed, option: Option, value: string): void {
  const key = option.attributeName();
  if (key === 'kubeconfig' || key === 'context' || key === 'namespace') parsed.flags[key] = value;
}

/** The command's own flags, then the global ones (commander looks them up in that order too). */
function optionsOf(command: Command): Option[] {
  const own = [...command.options];
  for (let parent = command.parent; parent; parent = parent.parent) own.push(...parent.options);
  return own;
}

function findOption(command: Command, flag: string): Option | undefined {
  return optionsOf(command).find((o) => o.long === flag || o.short === flag);
}

function flagCandidates(command: Command): Candidate[] {
  const flags: Candidate[] = [];
  for (const option of optionsOf(command)) {
    if (option.hidden) continue;
    for (const name of [option.long, option.short]) if (name) flags.push({ value: name, description: option.description });
  }
  flags.push({ value: '--help', description: 'help for this command' });
  return flags;
}

/** A flag's value as typed, and what stands before it in the same word (`--context=`), kept in the candidates. */
interface TypedValue {
  value: string;
  prefix: string;
}

async function completeValue(option: Option, typed: TypedValue, parsed: Parsed, sources: CompletionSources): Promise<Completion> {
  const key = option.attributeName();
  if (FILE_OPTIONS.has(key)) return { candidates: [], directive: Directive.Default };
  let values: string[] = option.argChoices ?? [];
  if (key === 'context') values = await sources.contexts(parsed.flags);
  else if (key === 'namespace') values = await sources.namespaces(parsed.flags);
  const found = matching(
    typed.value,
    values.map((value) => ({ value })),
    Directive.NoFileComp,
  );
  return { ...found, candidates: found.candidates.map((c) => ({ value: typed.prefix + c.value })) };
}

async function completeArgument(parsed: Parsed, current: string, sources: CompletionSources): Promise<Completion> {
  const { command, positionals } = parsed;
  const args = command.registeredArguments;
  const argument = args[Math.min(positionals.length, args.length - 1)];
  if (argument === undefined || (positionals.length >= args.length && !argument.variadic))
    return { candidates: [], directive: Directive.NoFileComp };
  let values = argument.argChoices ?? [];
  if (MEMBER_ARGUMENTS.has(command.name())) values = (await sources.members(parsed.flags)).filter((name) => !positionals.includes(name));
  return matching(
    current,
    values.map((value) => ({ value })),
    Directive.NoFileComp,
  );
}

function matching(current: string, candidates: Candidate[], directive: number): Completion {
  return { candidates: candidates.filter((c) => c.value.startsWith(current)), directive };
}

/** Reads contexts from the kubeconfig, namespaces and members from the cluster; any failure completes nothing. */
function clusterSources(): CompletionSources {
  return {
    async contexts(flags) {
      const { loadKubeConfig } = await import('../kube/config.js');
      try {
        return loadKubeConfig(flags.kubeconfig, process.env).config.contexts.map((c) => c.name);
      } catch {
        return [];
      }
    },
    namespaces: (flags) =>
      fromCluster(flags, async (kube, signal) => {
        const list = await kube.call<{ items: Array<{ metadata: { name: string } }> }>(
          { verb: 'list', resource: 'namespaces' },
          { method: 'GET', path: '/api/v1/namespaces', signal },
        );
        return list.items.map((ns) => ns.metadata.name);
      }),
    members: (flags) =>
      fromCluster(flags, async (kube, signal) => {
        const { memberNames } = await import('../members/delete.js');
        return memberNames(kube, kube.namespace, signal);
      }),
  };
}

async function fromCluster(flags: ConnectionFlags, read: (kube: Kube, signal: AbortSignal) => Promise<string[]>): Promise<string[]> {
  const { connect } = await import('../kube/client.js');
  let timer: NodeJS.Timeout | undefined;
  let kube: Kube | undefined;
  try {
    kube = connect(flags);
    // Requests are cut off at the deadline; the race also covers what comes before them (an exec plugin).
    const late = new Promise<string[]>((resolve) => (timer = setTimeout(() => resolve([]), CLUSTER_WAIT_MS)));
    return await Promise.race([read(kube, AbortSignal.timeout(CLUSTER_WAIT_MS)), late]);
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
    // Closing the connection ends a request still waiting, so the process ends with the answer.
    kube?.close();
  }
}
