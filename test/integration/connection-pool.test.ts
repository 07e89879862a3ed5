import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { connect, type Kube } from '../../src/kube/client.js';
import { NetworkError } from '../../src/kube/failures.js';
import { useControlPlane } from './support.js';

// The keep-alive pool of one client under a burst: requests beyond its 16 connections wait in the agent's queue and
// are then handed a socket that is already connected (with `reusedSocket` false). They must get the same limits and
// words as any other request, and leave nothing listening on the socket.

const env = useControlPlane({ installCrd: false });

/** Every socket a request of this process was sent on, found through Node's own diagnostics channel. */
function collectSockets(): { sockets: Set<Socket>; stop: () => void } {
  const requests: ClientRequest[] = [];
  const onRequest = (message: unknown): void => void requests.push((message as { request: ClientRequest }).request);
  // held here: a channel nobody holds can be collected, and its subscribers with it
  const channel = diagnostics.channel('http.client.request.start');
  channel.subscribe(onRequest);
  return {
    get sockets() {
      return new Set(requests.map((r) => r.socket).filter((s): s is Socket => s !== null));
    },
    stop: () => channel.unsubscribe(onRequest),
  };
}

function warningsDuring(): { warnings: Error[]; stop: () => void } {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  return { warnings, stop: () => process.off('warning', onWarning) };
}

/** Watches that end after `seconds`, holding every one of the client's 16 connections until then. */
async function holdEveryConnection(kube: Kube, namespace: string, seconds: number): Promise<{ ended: Promise<void> }> {
  const watches = await Promise.all(
    Array.from({ length: 16 }, () =>
      kube.http.stream({ method: 'GET', path: `/api/v1/namespaces/${namespace}/configmaps`, query: { watch: 1, timeoutSeconds: seconds } }),
    ),
  );
  const ends = watches.map((w) => new Promise<void>((resolve) => w.once('end', () => resolve())));
  for (const w of watches) w.resume();
  return { ended: Promise.all(ends).then(() => undefined) };
}

test('5,000 requests at once: no MaxListenersExceededWarning, no listener left on any pooled socket', async () => {
  const kube = connect({ kubeconfig: env.cp.kubeconfig });
  const seen = collectSockets();
  const warned = warningsDuring();
  try {
    const answers = await Promise.all(
      Array.from({ length: 5_000 }, () => kube.http.json<{ kind: string }>({ method: 'GET', path: '/api/v1/namespaces/default' })),
    );
    assert.equal(answers.filter((a) => a.kind === 'Namespace').length, 5_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      warned.warnings.map((w) => `${w.name}: ${w.message}`),
      [],
    );
    const sockets = [...seen.sockets];
    assert.ok(sockets.length >= 1 && sockets.length <= 16, `${sockets.length} sockets for one client`);
    for (const socket of sockets) {
      for (const event of ['connect', 'secureConnect']) {
        assert.equal(socket.listenerCount(event), 0, `${event} listeners left on a pooled socket`);
      }
    }
  } finally {
    seen.stop();
    warned.stop();
    kube.close();
  }
});

test('a request that waited for a connection gets the silence limit, and the words for it', async () => {
  const namespace = await env.cluster.createNamespace('pool');
  const kube = connect({ kubeconfig: env.cp.kubeconfig });
  try {
    // Queued behind 16 watches for a second, then handed one of their connections: a watch of a quiet namespace
    // answers at once and then says nothing. The silence limit ends it, from the moment it got the connection.
    const held = await holdEveryConnection(kube, namespace, 1);
    const started = performance.now();
    const quiet = await kube.http.stream({
      method: 'GET',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      query: { watch: 1, timeoutSeconds: 60 },
      idleTimeoutMs: 4_000,
    });
    const answeredAfter = performance.now() - started;
    await held.ended;
    const failure = await new Promise<unknown>((resolve) => {
      quiet.once('error', resolve);
      quiet.once('end', () => resolve(undefined));
      quiet.resume();
    });
    const host = new URL(env.cp.server).host;
    assert.ok(answeredAfter >= 500, `answered after ${Math.round(answeredAfter)} ms: it did not wait for a connection`);
    assert.ok(failure instanceof NetworkError, `ended with ${String(failure)}`);
    assert.equal(failure.code, 'IDLE_TIMEOUT');
    assert.equal(failure.message, `no data from ${host} for 4s`);
    assert.ok(performance.now() - started >= answeredAfter + 3_900, 'the silence was not measured from the answer');

    // Waiting longer than the silence limit for a connection is no answer within it.
    const blocked = await holdEveryConnection(kube, namespace, 5);
    const waited = await kube.http
      .json({ method: 'GET', path: '/api/v1/namespaces/default', idleTimeoutMs: 2_000 })
      .catch((err: unknown) => err);
    assert.ok(waited instanceof NetworkError, `answered: ${JSON.stringify(waited)}`);
    assert.equal(waited.code, 'IDLE_TIMEOUT');
    assert.equal(waited.message, `no answer from ${host} within 2s`);
    await blocked.ended;
  } finally {
    kube.close();
  }
});
