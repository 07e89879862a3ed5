/** Names for a message: all of a few, the first ten of many. */
export function nameList(names: readonly string[], most = 10): string {
  if (names.length <= most) return names.join(', ');
  return `${names.slice(0, most).join(', ')} and ${names.length - most} more`;
}

/** `1 member`, `2 members`. */
export function members(count: number): string {
  return `${count} member${count === 1 ? '' : 's'}`;
}

/** ` (held by finalizer x)`, ` (held by finalizers x, y)`, or nothing when none holds it. */
export function heldBy(finalizers: readonly string[]): string {
  return finalizers.length === 0 ? '' : ` (held by finalizer${finalizers.length > 1 ? 's' : ''} ${finalizers.join(', ')})`;
}
