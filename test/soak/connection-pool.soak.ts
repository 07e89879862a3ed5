// The long run of the keep-alive pool (`npm run soak`): bursts larger than the pool, so that most requests wait in
// the agent's queue and are then handed a connected socket, for SOAK_POOL_MINUTES (10 by default); the heap and
// the listeners on the pooled sockets must stay flat. test/integration/connection-pool.test.ts is the short one.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect } from '../../src/kube/client.js';
import { useControlPlane } from '../integration/support.js';

const env = useControlPlane({ installCrd: false });
const MINUTES = Number(process.env.SOAK_POOL_MINUTES ?? 10);
const BURST = 200;

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

test(
  `soak: ${MINUTES} minutes of bursts of ${BURST} requests through one pool of 16 connections`,
  { timeout: (MINUTES + 5) * 60_000 },
  async (t) => {
    const kube = connect({ kubeconfig: env.cp.kubeconfig });
    const sockets = new Set<Socket>();
    const onRequest = (message: unknown): void => {
      const request = (message as { request: ClientRequest }).request;
      // published once the request has its socket
      if (request.socket !== null) sockets.add(request.socket);
    };
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    // held here: a channel nobody holds can be collected, and its subscribers with it
    const channel = diagnostics.channel('http.client.request.start');
    channel.subscribe(onRequest);
    process.on('warning', onWarning);
    try {
      const burst = (): Promise<unknown[]> =>
        Promise.all(Array.from({ length: BURST }, () => kube.http.json({ method: 'GET', path: '/api/v1/namespaces/default' })));
      for (let i = 0; i < 20; i++) await burst();
      const warm = heapMb();
      const deadline = Date.now() + MINUTES * 60_000;
      let rounds = 0;
      while (Date.now() < deadline) {
        await burst();
        rounds++;
      }
      const end = heapMb();
      const left = [...sockets].reduce((n, s) => n + s.listenerCount('connect') + s.listenerCount('secureConnect'), 0);
      t.diagnostic(
        `${rounds} bursts (${rounds * BURST} requests) over ${sockets.size} sockets; heap ${warm.toFixed(1)} MB → ${end.toFixed(1)} MB`,
      );
      assert.deepEqual(warnings, []);
      assert.equal(left, 0, 'connect or secureConnect listeners left on pooled sockets');
      assert.ok(end - warm < 10, `the heap grew by ${(end - warm).toFixed(1)} MB`);
    } finally {
      channel.unsubscribe(onRequest);
      process.off('warning', onWarning);
      kube.close();
    }
  },
);
