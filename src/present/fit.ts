import type { MemberMisfits } from '../members/check.js';
import type { Holder } from '../members/finalizers.js';
import { jsonType, type Misfit } from '../members/fit.js';
import { nameList } from '../members/names.js';
import { escapeControl } from './escape.js';

const MAX_VALUE = 60;

/** One line per thing that does not fit: `NAMESPACE/NAME: PATH: what is wrong`. */
export function misfitLines(members: MemberMisfits[]): string[] {
  return members.flatMap((m) => m.misfits.map((misfit) => `${escapeControl(`${m.namespace}/${m.name}`)}: ${describeMisfit(misfit)}`));
}

export function describeMisfit(misfit: Misfit): string {
  return `${escapeControl(misfit.path)}: ${problem(misfit)}`;
}

function problem(misfit: Misfit): string {
  switch (misfit.kind) {
    case 'type':
      return `must be ${article(misfit.expected)}, is ${article(jsonType(misfit.value))}: ${shown(misfit.value)}`;
    case 'minLength':
      return misfit.length === 0 ? 'must not be empty' : `must be at least ${misfit.limit} characters, has ${misfit.length}`;
    case 'maxLength':
      return `must be at most ${misfit.limit} characters, has ${misfit.length}: ${shown(misfit.value)}`;
    case 'pattern':
      return `must match ${escapeControl(misfit.pattern)}: ${shown(misfit.value)}`;
    case 'format':
      return `must be a ${misfit.format}: ${shown(misfit.value)}`;
    case 'unknown': {
      const where = misfit.knownAt === undefined ? '' : ` (the schema has ${misfit.knownAt})`;
      return `not in the schema, dropped at the member's next write: ${shown(misfit.value)}${where}`;
    }
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** A value as JSON, cut short when long, with control characters escaped. */
function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  const cut = [...json];
  return escapeControl(cut.length > MAX_VALUE ? `${cut.slice(0, MAX_VALUE - 1).join('')}…` : json);
}

/** `ns/a (x, y), ns/b (z)`, the first `limit` of them and how many more. */
export function describeHolders(holders: Array<Pick<Holder, 'namespace' | 'name' | 'finalizers'>>, limit = 10): string {
  return escapeControl(
    nameList(
      holders.map((h) => `${h.namespace}/${h.name} (${h.finalizers.join(', ')})`),
      limit,
    ),
  );
}

/**
 * How to mend a member that does not fit. Before the schema is installed, server-side apply (apply-member) can
 * set any team; once it is, the API server (1.20 tested) refuses to server-side apply to a member whose stored
 * team is not a string, while a merge patch works. A status is the operator's record, written through its own
 * subresource: setting its team to the member's own records that team as announced, without a word.
 */
export function fixHint(schemaInstalled: boolean, misfits: MemberMisfits[] = []): string {
  const team = schemaInstalled
    ? `kubectl patch member NAME -n NAMESPACE --type merge -p '{"spec":{"memberOf":"TEAM"}}' sets a valid team`
    : '`member-watch apply-member NAME -n NAMESPACE --team TEAM` sets a valid team';
  const status = misfits.some((m) => m.misfits.some((f) => f.path.startsWith('status.')))
    ? `, \`kubectl patch member NAME -n NAMESPACE --subresource status --type merge -p '{"status":{"announcedTeam":"TEAM"}}'\` (kubectl 1.24 or later) records the member's team as the one announced`
    : '';
  return `fix each member listed: ${team}${status}, \`kubectl edit member NAME -n NAMESPACE\` moves or removes a field the schema does not know`;
}
