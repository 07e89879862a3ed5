import { InvalidArgumentError } from 'commander';
import { usageError } from '../errors.js';
import { labelProblem } from '../members/validate.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Go-style durations as kubectl takes them: 500ms, 30s, 2m, 1h30m, and a bare 0. What 0 means is each flag's to say. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (!DURATION.test(text)) {
    throw new InvalidArgumentError(`"${text}" is not a duration: use a number with a unit, e.g. 500ms, 30s, 2m, 1h30m`);
  }
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * (UNIT_MS[unit ?? 's'] ?? 0);
  return Math.round(ms);
}

export function parsePositiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`"${text}" is not a positive whole number`);
  }
  return n;
}

/** Repeatable `-l key=value`: collects into a record, rejecting what the API server would reject. */
export function collectLabel(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`"${text}" is not a label: use key=value`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const problem = labelProblem(key, value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return { ...previous, [key]: value };
}

export function collect(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

/** The environment variable client-go reads (as KUBE_FEATURE_ + a client feature gate) to stream lists or not. */
const WATCH_LIST_CLIENT = 'KUBE_FEATURE_WatchListClient';
/** What Go's strconv.ParseBool takes, as client-go reads its feature gates. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * Whether lists are asked for as a watch stream (where the server serves one), as client-go's reflectors do by
 * default since 0.35: only with KUBE_FEATURE_WatchListClient=true, since on kube-apiserver 1.37 a paged first list
 * (from the watch cache) greets faster and costs the server less (docs/performance.md, bench/streamed-list.ts).
 */
export function streamsLists(env: NodeJS.ProcessEnv): boolean {
  const value = env[WATCH_LIST_CLIENT];
  if (value === undefined || value === '') return false;
  if (GO_TRUE.has(value)) return true;
  if (GO_FALSE.has(value)) return false;
  throw usageError(`${WATCH_LIST_CLIENT}=${JSON.stringify(value)} is neither true nor false`, 'set it to true or false, or unset it');
}
