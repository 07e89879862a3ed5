import { members, nameList } from '../members/names.js';
import { GROUP, PLURAL } from '../members/resource.js';

export type ObjectFormat = 'name' | 'json' | 'yaml';

/** kubectl's resource/name form, which `kubectl get` and `delete` accept back. */
export function memberRef(name: string): string {
  return `${PLURAL.replace(/s$/, '')}.${GROUP}/${name}`;
}

export interface FormatOptions {
  /** A List even for one object: the shape follows what was asked for (several members), not how many succeeded. */
  asList: boolean;
  /** metadata.managedFields, which kubectl hides unless --show-managed-fields. */
  showManagedFields: boolean;
}

/** Objects printed the way `kubectl -o json|yaml` prints them: one object alone, several as a List. */
export async function formatObjects(objects: object[], format: Exclude<ObjectFormat, 'name'>, options: FormatOptions): Promise<string> {
  const shown = options.showManagedFields ? objects : objects.map(withoutManagedFields);
  const value = shown.length === 1 && !options.asList ? shown[0] : { apiVersion: 'v1', kind: 'List', items: shown, metadata: {} };
  if (format === 'json') return JSON.stringify(value, null, 2);
  // Loaded when asked for, so that no command's start-up (--help included) pays for parsing js-yaml.
  const { default: yaml } = await import('js-yaml');
  return yaml.dump(value, { lineWidth: -1 }).trimEnd();
}

function withoutManagedFields(object: object): object {
  const metadata = (object as { metadata?: Record<string, unknown> }).metadata;
  if (metadata === undefined || !('managedFields' in metadata)) return object;
  const rest = { ...metadata };
  delete rest.managedFields;
  return { ...object, metadata: rest };
}

/** What a command that changes the cluster did, member by member. */
export interface WriteTally {
  done: string[];
  /** Refused, failed before the request went out, or never started. */
  notDone: string[];
  /** Cut off in flight or failed after the request went out: the change may or may not have happened. */
  unknown: string[];
}

/** `applied 7 of 10 members; not applied: a, b, c; unknown (cut off in flight, may have been applied): d` */
export function tallyText(verb: 'applied' | 'deleted', tally: WriteTally): string {
  const total = tally.done.length + tally.notDone.length + tally.unknown.length;
  const parts = [`${verb} ${tally.done.length} of ${members(total)}`];
  if (tally.notDone.length > 0) parts.push(`not ${verb}: ${nameList(tally.notDone)}`);
  if (tally.unknown.length > 0) parts.push(`unknown (cut off in flight, may have been ${verb}): ${nameList(tally.unknown)}`);
  return parts.join('; ');
}
