// Property test of `member-watch operator` (issue 16): seeded churn with faults against one to three replicas, with
// and without the finalizer; every replica's log, the Events and the statuses checked against etcd's own history
// (test/harness/operator-checker.ts says what is checked). The long run is `npm run soak`.
import { defineOperatorChurnSuite } from './operator-churn.js';

defineOperatorChurnSuite({ rounds: 1, operations: 600, faultsPerKind: 2, names: 30, prefill: 10, concurrency: 16, timeoutMs: 8 * 60_000 });
