import type { ChalkInstance } from 'chalk';
import type { MemberEvent } from '../watcher/events.js';
import { escapeControl } from './escape.js';

export interface TextOptions {
  chalk: ChalkInstance;
  /** Names read NAMESPACE/NAME when watching every namespace. */
  qualified: boolean;
  timestamps: boolean;
  /** The watch's -l and --field-selector as given, for members that begin or stop to match them. */
  selectors?: string | undefined;
}

/** An update that leaves the team as it was: shown only with --verbose, in every output format. */
export function isQuietUpdate(event: MemberEvent): boolean {
  return event.type === 'MODIFIED' && event.previousTeam === event.member.team;
}

/** The seed operator's words for one event, with cluster text escaped so it cannot drive the terminal. */
export function formatEventText(event: MemberEvent, options: TextOptions): string {
  const { chalk } = options;
  const name = options.qualified ? `${event.member.namespace}/${event.member.name}` : event.member.name;
  const who = chalk.bold(escapeControl(name));
  const team = (t: string): string => chalk.cyan(escapeControl(t));
  const line = event.selection === undefined ? sentence(event, who, team, chalk) : selectionSentence(event, who, team, options);
  return options.timestamps ? `${chalk.dim(event.time)} ${line}` : line;
}

function sentence(event: MemberEvent, who: string, team: (t: string) => string, chalk: ChalkInstance): string {
  const now = event.member.team;
  const before = event.previousTeam;
  switch (event.type) {
    case 'ADDED':
      return chalk.green(now === undefined ? `welcome ${who}` : `welcome ${who} to the team ${team(now)}`);
    case 'DELETED':
      return chalk.red(`sad to see you go ${who}`);
    case 'MODIFIED':
      if (before === now) return chalk.dim(`${who} was updated`);
      if (before === undefined) return chalk.yellow(`${who} joined the team ${team(now as string)}`);
      if (now === undefined) return chalk.yellow(`${who} left the team ${team(before)}`);
      return chalk.yellow(`${who} moved from team ${team(before)} to team ${team(now)}`);
  }
}

/**
 * A member that stays in the cluster but enters or leaves what the watch selects: not a welcome, not a goodbye.
 * Through --team it joins or leaves a watched team; through the selectors it begins or stops to match them.
 */
function selectionSentence(event: MemberEvent, who: string, team: (t: string) => string, options: TextOptions): string {
  const { chalk } = options;
  const now = event.member.team;
  const before = event.previousTeam;
  const selectors = chalk.cyan(escapeControl(options.selectors ?? 'the selectors'));
  if (event.selection?.change === 'entered') {
    return chalk.green(
      event.selection.by === 'team' && now !== undefined ? `${who} joined the team ${team(now)}` : `${who} now matches ${selectors}`,
    );
  }
  if (event.selection?.by === 'team' && before !== undefined) {
    return chalk.yellow(
      now === undefined ? `${who} left the team ${team(before)}` : `${who} left the team ${team(before)} for the team ${team(now)}`,
    );
  }
  return chalk.yellow(`${who} no longer matches ${selectors}`);
}
