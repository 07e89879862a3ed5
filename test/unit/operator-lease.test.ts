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

interface StoredLease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion: string };
  spec: Record<string, unknown>;
}

/** One Lease with optimistic concurrency, which the test can delete or hand to anyone. */
class FakeLeases {
  lease: StoredLease | undefined;
  readonly calls: string[] = [];
  private rv = 1;
  /** Called as each request arrives, before it is answered. */
  onRequest: (method: string) => void = () => undefined;

  set(spec: Record<string, unknown>): void {
    this.lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', resourceVersion: String(++this.rv) }, spec };
  }

  kube(): Kube {
    return { http: { json: (req: ApiRequest) => this.json(req) }, close: () => undefined } as unknown as Kube;
  }

  private async json(req: ApiRequest): Promise<unknown> {
    this.calls.push(req.method);
    this.onRequest(req.method);
    const notFound = new ApiError({ status: 404, reason: 'NotFound', message: 'not found', objectName: 'l' });
    if (req.method === 'GET') {
      if (this.lease === undefined) throw notFound;
      return structuredClone(this.lease);
    }
    const body = req.body as StoredLease;
    if (req.method === 'POST') {
      if (this.lease !== undefined) throw new ApiError({ status: 409, reason: 'AlreadyExists', message: 'exists' });
    } else if (this.lease === undefined) {
      throw notFound;
    } else if (body.metadata.resourceVersion !== this.lease.metadata.resourceVersion) {
      throw new ApiError({ status: 409, reason: 'Conflict', message: 'modified' });
    }
    this.set(body.spec);
    return structuredClone(this.lease);
  }
}

const FAST = { namespace: 'ns', name: 'l', leaseDurationMs: 400, renewDeadlineMs: 300, retryPeriodMs: 50 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `done` holds, 5 s at most: timers on a loaded machine run late. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 5000; waited += 10) await sleep(10);
}

function elect(leases: FakeLeases, identity: string): { elector: LeaderElector; said: string[] } {
  const said: string[] = [];
  const elector = new LeaderElector(
    leases.kube(),
    { ...FAST, identity },
    {
      startedLeading: () => said.push('leading'),
      stoppedLeading: (reason) => said.push(`stopped: ${reason}`),
      newLeader: (id) => said.push(`leader ${String(id)}`),
      tryFailed: (reason) => said.push(`failed: ${reason}`),
    },
  );
  return { elector, said };
}

test('finding 2: a leader whose Lease is deleted stops acting before it creates another', async () => {
  const leases = new FakeLeases();
  const { elector, said } = elect(leases, 'me');
  const running = elector.run();
  await until(() => said.length > 0);
  assert.deepEqual(said, ['leading']);
  let actingWhenCreating: boolean | undefined;
  leases.onRequest = (method) => {
    if (method === 'POST') actingWhenCreating ??= elector.mayAct();
  };
  leases.lease = undefined;
  await until(() => said.length >= 3);
  assert.equal(actingWhenCreating, false);
  assert.equal(said[1], 'stopped: the lease was deleted');
  assert.equal(said[2], 'leading', 'it leads again, in a new term');
  await elector.stop();
  await running;
});

test('finding 2: a standby that saw the Lease held waits a lease duration after it is deleted before creating one', async () => {
  const leases = new FakeLeases();
  leases.set({ holderIdentity: 'other', leaseDurationSeconds: 1 });
  const { elector, said } = elect(leases, 'me');
  const running = elector.run();
  await until(() => said.includes('leader other'));
  const deletedAt = performance.now();
  leases.lease = undefined;
  let createdAfter: number | undefined;
  leases.onRequest = (method) => {
    if (method === 'POST') createdAfter ??= performance.now() - deletedAt;
  };
  try {
    // The Lease said 1 s: the holder may act until then, by the standby's own clock.
    await until(() => createdAfter !== undefined);
    assert.ok(createdAfter !== undefined && createdAfter >= 900, `created ${String(createdAfter)} ms after the deletion`);
    await until(() => elector.isLeader);
    assert.deepEqual(said, ['leader other', 'leading']);
  } finally {
    await elector.stop();
    await running;
  }
});

test('a Lease handed to a standby by someone else is not taken until it expires; a renewal refused (409) stops writes until read', async () => {
  const leases = new FakeLeases();
  leases.set({ holderIdentity: 'other', leaseDurationSeconds: 1 });
  const { elector, said } = elect(leases, 'me');
  const running = elector.run();
  await until(() => said.includes('leader other'));
  const handedAt = performance.now();
  leases.set({ holderIdentity: 'me', leaseDurationSeconds: 1 });
  await until(() => elector.isLeader);
  assert.ok(performance.now() - handedAt >= 900, `took it after ${performance.now() - handedAt} ms (the Lease said 1 s)`);
  // Someone writes the Lease under the leader: its next renewal is refused, and no write may start until it has read whose it is.
  let actingWhenReading: boolean | undefined;
  leases.onRequest = (method) => {
    if (method === 'GET') actingWhenReading ??= elector.mayAct();
  };
  leases.set({ holderIdentity: 'stranger', leaseDurationSeconds: 10 });
  await until(() => said.length >= 4);
  assert.equal(actingWhenReading, false);
  assert.deepEqual(said, ['leader other', 'leading', 'leader stranger', 'stopped: the lease is held by stranger']);
  await elector.stop();
  await running;
});
