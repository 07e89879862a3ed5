// Property test of `watch` (issue 10): heavy churn with faults, every watcher's NDJSON checked member by member
// against etcd's own history (test/harness/watch-checker.ts says what the list/watch protocol allows).
// Every combination of empty/non-empty start × fault × --watch-only × streamed/paged lists is covered (streamed where
// the server serves them). The long run is `npm run soak`.
import { defineChurnSuite } from './churn.js';

defineChurnSuite({ operations: 1000, faultsPerKind: 3, kills: 2, names: 60, prefill: 30, concurrency: 32, timeoutMs: 5 * 60_000 });
