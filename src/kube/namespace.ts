const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Why NAMESPACE cannot name a namespace (an RFC 1123 label), or undefined when it can. */
export function namespaceProblem(namespace: string): string | undefined {
  if (namespace === '') return 'a namespace must not be empty';
  return NAMESPACE.test(namespace) ? undefined : 'a namespace is at most 63 lowercase letters, digits and "-"';
}
