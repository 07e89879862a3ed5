import { GROUP, PLURAL } from '../members/resource.js';

export type ObjectFormat = 'name' | 'json' | 'yaml';

/** kubectl's resource/name form, which `kubectl get` and `delete` accept back. */
export function memberRef(name: string): string {
  return `${PLURAL.replace(/s$/, '')}.${GROUP}/${name}`;
}

/** Objects printed the way `kubectl -o json|yaml` prints them: one object alone, several as a List. */
export async function formatObjects(objects: object[], format: Exclude<ObjectFormat, 'name'>): Promise<string> {
  const value = objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects, metadata: {} };
  if (format === 'json') return JSON.stringify(value, null, 2);
  // Loaded when asked for, so that no command's start-up (--help included) pays for parsing js-yaml.
  const { default: yaml } = await import('js-yaml');
  return yaml.dump(value, { lineWidth: -1 }).trimEnd();
}
