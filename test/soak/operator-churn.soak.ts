// The long operator churn run (`npm run soak`): the property test of test/integration/operator-churn.test.ts in three
// rounds, so that every fault meets one, two and three replicas with and without the finalizer, with more changes
// and faults. OPERATOR_CHURN_OPERATIONS (per run, default 3000), OPERATOR_CHURN_FAULTS (per kind and run, default 5),
// OPERATOR_CHURN_ROUNDS (default 3) set its length; OPERATOR_CHURN_SEED replays a run's plan.
import { defineOperatorChurnSuite } from '../integration/operator-churn.js';

function fromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not ${process.env[name]}`);
  return value;
}

defineOperatorChurnSuite({
  rounds: fromEnv('OPERATOR_CHURN_ROUNDS', 3),
  operations: fromEnv('OPERATOR_CHURN_OPERATIONS', 3000),
  faultsPerKind: fromEnv('OPERATOR_CHURN_FAULTS', 5),
  names: 60,
  prefill: 20,
  concurrency: 32,
  timeoutMs: 60 * 60_000,
});
