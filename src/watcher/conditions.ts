import { usageError } from '../errors.js';
import { namespaceProblem } from '../kube/namespace.js';
import { nameProblem } from '../members/validate.js';
import type { MemberEvent } from './events.js';

/** What `--for` waits for: a welcome, a goodbye, or a member being in a team. */
export type Condition =
  | { kind: 'added'; name: string; text: string }
  | { kind: 'deleted'; name: string; text: string }
  | { kind: 'team'; name: string; team: string; text: string };

const FORMS = 'added:NAME, deleted:NAME or team:NAME=TEAM (NAME as NAMESPACE/NAME with -A)';

export function parseCondition(text: string): Condition {
  const colon = text.indexOf(':');
  const kind = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (colon > 0 && rest !== '' && (kind === 'added' || kind === 'deleted')) return { kind, name: rest, text };
  if (colon > 0 && kind === 'team') {
    const eq = rest.indexOf('=');
    if (eq > 0 && eq < rest.length - 1) return { kind, name: rest.slice(0, eq), team: rest.slice(eq + 1), text };
  }
  throw usageError(`invalid condition ${JSON.stringify(text)}: expected ${FORMS}`);
}

/**
 * Refuses a condition that could never be met by this watch, which would only end in a timeout: names read
 * NAMESPACE/NAME with -A (`namespace` undefined) and NAME alone otherwise. `suggested` is the namespace to offer
 * in the hint for -A.
 */
export function checkConditionScope(conditions: readonly Condition[], namespace: string | undefined, suggested: string): void {
  for (const condition of conditions) {
    const slash = condition.name.indexOf('/');
    const name = condition.name.slice(slash + 1);
    const ns = slash < 0 ? undefined : condition.name.slice(0, slash);
    const invalid = nameProblem(name) ?? (ns === undefined ? undefined : namespaceProblem(ns));
    if (invalid !== undefined) throw usageError(`--for ${condition.text} can never be met: ${invalid}`);
    const refusal = scopeRefusal(condition, { ns, name }, namespace, suggested);
    if (refusal !== undefined) throw usageError(refusal.message, refusal.hint);
  }
}

function scopeRefusal(
  condition: Condition,
  named: { ns: string | undefined; name: string },
  namespace: string | undefined,
  suggested: string,
): { message: string; hint: string } | undefined {
  const { ns, name } = named;
  if (namespace === undefined) {
    if (ns !== undefined) return undefined;
    return {
      message: `--for ${condition.text} names no namespace: with -A members are named NAMESPACE/NAME`,
      hint: `write --for ${respell(condition, `${suggested}/${name}`)}`,
    };
  }
  if (ns === undefined) return undefined;
  if (ns === namespace) {
    return {
      message: `--for ${condition.text} names the namespace: without -A members are named by NAME alone`,
      hint: `write --for ${respell(condition, name)}`,
    };
  }
  return {
    message: `--for ${condition.text} is about namespace ${ns}, but the watch is of namespace ${namespace}`,
    hint: `watch that namespace (-n ${ns} --for ${respell(condition, name)}) or every namespace (-A)`,
  };
}

function respell(condition: Condition, name: string): string {
  return condition.kind === 'team' ? `team:${name}=${condition.team}` : `${condition.kind}:${name}`;
}

/**
 * Whether one event meets one condition; `name` is namespace/name when watching every namespace. added: the member
 * is there, new or entering the selection; deleted: it was deleted, not merely out of the selection.
 */
export function meets(condition: Condition, event: MemberEvent, name: string): boolean {
  if (condition.name !== name) return false;
  switch (condition.kind) {
    case 'added':
      return event.type === 'ADDED';
    case 'deleted':
      return event.type === 'DELETED' && event.selection === undefined;
    case 'team':
      return event.type !== 'DELETED' && event.member.team === condition.team;
  }
}

/**
 * Tracks which conditions have been met. Once met, a condition stays met. In order, only the first unmet
 * condition can be met, so later ones must happen after earlier ones; events of one batch (one list, one
 * relist) happened in no order the API tells, so among them every order counts: `--for added:b --for added:a`
 * is met by a list that holds both, whichever it names first.
 */
export class ConditionTracker {
  private readonly met: boolean[];
  /** In order: the events of the batch under way that meet some unmet condition, with their names. */
  private together: Array<{ event: MemberEvent; name: string }> = [];
  private batch: number | undefined;

  constructor(
    private readonly conditions: readonly Condition[],
    private readonly inOrder: boolean,
  ) {
    this.met = conditions.map(() => false);
  }

  get active(): boolean {
    return this.conditions.length > 0;
  }

  get done(): boolean {
    return this.met.every(Boolean);
  }

  get unmet(): Condition[] {
    return this.conditions.filter((_, i) => !this.met[i]);
  }

  observe(event: MemberEvent, name: string): void {
    if (!this.inOrder) {
      this.conditions.forEach((condition, i) => {
        if (meets(condition, event, name)) this.met[i] = true;
      });
      return;
    }
    if (event.batch === undefined || event.batch !== this.batch) this.together = [];
    this.batch = event.batch;
    if (this.conditions.some((c, i) => !this.met[i] && meets(c, event, name))) this.together.push({ event, name });
    // The next condition may be met by any event of the batch so far, and then the one after it, and so on.
    for (let i = this.met.indexOf(false); i >= 0 && this.together.some((e) => meets(this.conditions[i] as Condition, e.event, e.name));) {
      this.met[i] = true;
      i = this.met.indexOf(false);
    }
  }
}
