import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kube } from '../../src/kube/client.js';
import { type ApiRequest, ApiError } from '../../src/kube/http.js';
import { LeaderElector, leaderElectionProblem, microTime } from '../../src/operator/leader.js';

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

test('a candidate that loses the race for a free Lease stands by without a warning', async () => {
  const free = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'l', resourceVersion: '5' },
    spec: { leaseDurationSeconds: 1 },
  };
  const calls: string[] = [];
  const kube = {
    http: {
      json: async (req: ApiRequest): Promise<unknown> => {
        calls.push(req.method);
        if (req.method === 'GET') return structuredClone(free);
        throw new ApiError({ status: 409, reason: 'Conflict', message: 'the object has been modified' });
      },
    },
    close: () => undefined,
  } as unknown as Kube;
  const said: string[] = [];
  const elector = new LeaderElector(
    kube,
    { namespace: 'ns', name: 'l', identity: 'me', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 1000 },
    {
      startedLeading: () => said.push('leading'),
      stoppedLeading: (reason) => said.push(`stopped: ${reason}`),
      newLeader: (id) => said.push(`leader ${String(id)}`),
      tryFailed: (reason) => said.push(`failed: ${reason}`),
    },
  );
  const running = elector.run();
  await new Promise((r) => setTimeout(r, 100));
  await elector.stop();
  await running;
  assert.deepEqual(calls, ['GET', 'PUT']);
  assert.deepEqual(said, ['leader undefined']);
  assert.equal(elector.isLeader, false);
});
