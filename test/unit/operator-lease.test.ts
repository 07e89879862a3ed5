import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leaderElectionProblem, microTime } from '../../src/operator/leader.js';

const T0 = '2026-11-25T10:00:00.000Z';

test('Lease times carry six fractional digits; durations are checked as client-go checks them', () => {
  assert.equal(microTime(new Date(T0)), '2026-11-25T10:00:00.000000Z');
  assert.equal(leaderElectionProblem({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }), undefined);
  assert.match(
    leaderElectionProblem({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }) ?? '',
    /longer than the renew deadline/,
  );
  assert.match(leaderElectionProblem({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }) ?? '', /1.2 retry periods/);
  assert.match(leaderElectionProblem({ leaseDurationMs: 500, renewDeadlineMs: 200, retryPeriodMs: 100 }) ?? '', /at least 1s/);
});
