export interface Change {
  path: string;
  before: unknown;
  after: unknown;
}

/**
 * The leaf paths where two JSON values differ, in document order: what a dry run reports. A part added or
 * removed whole is shown leaf by leaf too (a schema added to a CRD is a list of fields, not one long line).
 */
export function changedPaths(before: unknown, after: unknown, path = ''): Change[] {
  if (before === undefined && isFilled(after)) return changedPaths(Array.isArray(after) ? [] : {}, after, path);
  if (after === undefined && isFilled(before)) return changedPaths(before, Array.isArray(before) ? [] : {}, path);
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((key) =>
      changedPaths(
        (before as Record<string, unknown>)[key],
        (after as Record<string, unknown>)[key],
        Array.isArray(before) ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`,
      ),
    );
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path, before, after }];
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/** A container with something in it; an empty one added or removed is a change of its own. */
function isFilled(value: unknown): boolean {
  return isContainer(value) && Object.keys(value).length > 0;
}
