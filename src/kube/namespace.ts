import type { Kube } from './client.js';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Why NAMESPACE cannot name a namespace (an RFC 1123 label), or undefined when it can. */
export function namespaceProblem(namespace: string): string | undefined {
  if (namespace === '') return 'a namespace must not be empty';
  return NAMESPACE.test(namespace) ? undefined : 'a namespace is at most 63 lowercase letters, digits and "-"';
}

/**
 * Whether the namespace exists: false only when the API server says it does not; undefined when it cannot tell
 * (a user who may not read namespaces, a failure), since a guess would mislead.
 */
export async function namespaceExists(kube: Kube, namespace: string): Promise<boolean | undefined> {
  try {
    const found = await kube.find({ verb: 'get', resource: 'namespaces' }, `/api/v1/namespaces/${encodeURIComponent(namespace)}`);
    return found !== undefined;
  } catch {
    return undefined;
  }
}
