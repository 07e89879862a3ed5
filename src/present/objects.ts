import yaml from 'js-yaml';
import { GROUP, PLURAL } from '../members/resource.js';

export type ObjectFormat = 'name' | 'json' | 'yaml';

/** kubectl's resource/name form, which `kubectl get` and `delete` accept back. */
export function memberRef(name: string): string {
  return `${PLURAL.replace(/s$/, '')}.${GROUP}/${name}`;
}

/** Objects printed the way `kubectl -o json|yaml` prints them: one object alone, several as a List. */
export function formatObjects(objects: object[], format: Exclude<ObjectFormat, 'name'>): string {
  const value = objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects, metadata: {} };
  return format === 'json' ? JSON.stringify(value, null, 2) : yaml.dump(value, { lineWidth: -1 }).trimEnd();
}
