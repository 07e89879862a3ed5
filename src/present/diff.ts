import type { Change } from '../kube/diff.js';

/** One line of a dry run's report: `+` added, `-` removed, `~` changed, with its path. */
export function formatChange(change: Change): string {
  if (change.before === undefined) return `+ ${change.path}: ${JSON.stringify(change.after)}`;
  if (change.after === undefined) return `- ${change.path}: ${JSON.stringify(change.before)}`;
  return `~ ${change.path}: ${JSON.stringify(change.before)} -> ${JSON.stringify(change.after)}`;
}
