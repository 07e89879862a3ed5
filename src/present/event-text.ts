import type { ChalkInstance } from 'chalk';
import type { MemberEvent } from '../watcher/events.js';
import { escapeControl } from './escape.js';

export interface TextOptions {
  chalk: ChalkInstance;
  /** Names read NAMESPACE/NAME when watching every namespace. */
  qualified: boolean;
  timestamps: boolean;
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
  const line = sentence(event, who, team, chalk);
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
