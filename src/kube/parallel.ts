/** The result of an item that was never started, because the run was stopped first. */
export const NOT_STARTED: unique symbol = Symbol('not started');
export type NotStarted = typeof NOT_STARTED;

/**
 * Runs fn over items with at most `limit` in flight; results keep the items' order. Items start in order, and
 * none starts once `stop` is aborted: those come back as NOT_STARTED, so that a caller can say exactly what was
 * not done. fn must not throw: it returns its failures, since one rejection would leave the others unawaited.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  stop?: AbortSignal,
): Promise<Array<R | NotStarted>> {
  const results = new Array<R | NotStarted>(items.length).fill(NOT_STARTED);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && stop?.aborted !== true) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
