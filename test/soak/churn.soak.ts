// The long churn run (`npm run soak`): the property test of test/integration/churn.test.ts with more operations,
// names and faults. CHURN_OPERATIONS (per run, default 8000), CHURN_FAULTS (per kind, default 8), CHURN_NAMES (per
// namespace, default 100) set its length; CHURN_SEED replays a run's plan.
import { defineChurnSuite } from '../integration/churn.js';

function fromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not ${process.env[name]}`);
  return value;
}

const faults = fromEnv('CHURN_FAULTS', 8);
defineChurnSuite({
  operations: fromEnv('CHURN_OPERATIONS', 8000),
  faultsPerKind: faults,
  kills: faults,
  names: fromEnv('CHURN_NAMES', 100),
  prefill: 50,
  concurrency: 32,
  timeoutMs: 60 * 60_000,
});
