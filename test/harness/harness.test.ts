import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import { CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { clusterFor, type Cluster } from './cluster.js';
import { assetsVersion, startControlPlane, type ControlPlane } from './control-plane.js';
import { needsControllerManager } from './requirements.js';
import { startTcpProxy } from './tcp-proxy.js';

let cp: ControlPlane;
let cluster: Cluster;

before(async () => {
  cp = await startControlPlane();
  cluster = clusterFor(cp);
});

after(() => cp?.stop());

interface Reply {
  status: number;
  body: string;
}

function open(url: string, token: string, timeoutMs = 10_000): Promise<IncomingMessage> {
  return new Promise((res, rej) => {
    const req = https.get(url, {
      ca: readFileSync(cp.caFile),
      headers: { authorization: `Bearer ${token}` },
      agent: false,
      timeout: timeoutMs,
    });
    req.once('response', res);
    req.once('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.once('error', rej);
  });
}

async function get(path: string, token: string, server = cp.server, timeoutMs?: number): Promise<Reply> {
  const resp = await open(`${server}${path}`, token, timeoutMs);
  let body = '';
  resp.setEncoding('utf8');
  for await (const chunk of resp) body += chunk as string;
  return { status: resp.statusCode ?? 0, body };
}

function closedWithin(resp: IncomingMessage, ms: number): Promise<boolean> {
  return new Promise((res) => {
    const timer = setTimeout(() => res(false), ms);
    resp.on('error', () => undefined);
    resp.once('close', () => {
      clearTimeout(timer);
      res(true);
    });
    resp.resume();
  });
}

/** The version the binary says it is (`v1.20.2`): the suite runs against whichever one it is given. */
function binaryVersion(): string {
  return assetsVersion().gitVersion;
}

function loadKubeConfig(file: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  if (context) kc.setCurrentContext(context);
  return kc;
}

test('/version answers with the admin token', async () => {
  const reply = await get('/version', cp.adminToken);
  assert.equal(reply.status, 200);
  assert.equal((JSON.parse(reply.body) as { gitVersion: string }).gitVersion, binaryVersion());
});

test('the nobody token is forbidden to list namespaces', async () => {
  assert.equal((await get('/api/v1/namespaces', cp.nobodyToken)).status, 403);
  const core = loadKubeConfig(cp.kubeconfig, 'nobody').makeApiClient(CoreV1Api);
  await assert.rejects(core.listNamespace(), (err: unknown) => (err as { code?: unknown }).code === 403);
});

test('a namespace survives an apiserver restart', async () => {
  const name = await cluster.createNamespace('harness');
  assert.match(name, /^harness-[0-9a-f]{8}$/);
  await cp.stopApiserver();
  await assert.rejects(get('/version', cp.adminToken));
  await cp.startApiserver();
  const ns = await clusterFor(cp).core.readNamespace({ name });
  assert.equal(ns.metadata?.name, name);
});

test('the proxy forwards, cuts, refuses, blackholes and trickles', async (t) => {
  const port = Number(new URL(cp.server).port);
  const proxy = await startTcpProxy(port);
  t.after(() => proxy.close());
  const via = `https://127.0.0.1:${proxy.port}`;

  const kc = loadKubeConfig(cp.kubeconfigFor({ server: via, namespace: 'default' }));
  assert.equal(kc.getCurrentCluster()?.server, via);
  assert.equal(kc.getContextObject('admin')?.namespace, 'default');
  const version = await kc.makeApiClient(VersionApi).getCode();
  assert.equal(version.gitVersion, binaryVersion());
  assert.ok(proxy.connections >= 1);

  const watch = await open(`${via}/api/v1/namespaces?watch=true`, cp.adminToken);
  assert.equal(watch.statusCode, 200);
  proxy.cutAll();
  assert.ok(await closedWithin(watch, 5000), 'cutAll did not break the open watch');

  proxy.setMode('refuse');
  await assert.rejects(get('/version', cp.adminToken, via));

  proxy.setMode('blackhole');
  await assert.rejects(get('/version', cp.adminToken, via, 500), /timeout/);

  // About 3 KB/s: a TLS handshake and a small answer take seconds, but they do arrive.
  proxy.setMode('trickle');
  const started = Date.now();
  assert.equal((await get('/version', cp.adminToken, via, 30_000)).status, 200);
  assert.ok(Date.now() - started > 500, `trickled answer came in ${Date.now() - started} ms`);
  assert.ok(proxy.trickled > 1000, `${proxy.trickled} bytes trickled`);

  proxy.setMode('pass');
  assert.equal((await get('/version', cp.adminToken, via)).status, 200);
});

test('compact runs, twice in a row', async () => {
  await cluster.createNamespace('compact');
  await cp.compact();
  await cp.compact();
});

test('the proxy stalls: nothing arrives while it holds, nothing is lost once it lets go', async (t) => {
  const proxy = await startTcpProxy(Number(new URL(cp.server).port));
  t.after(() => proxy.close());
  const via = `https://127.0.0.1:${proxy.port}`;
  const watch = await open(`${via}/api/v1/namespaces?watch=true&allowWatchBookmarks=false`, cp.adminToken);
  let received = '';
  watch.setEncoding('utf8');
  watch.on('data', (chunk: string) => {
    received += chunk;
  });
  // The initial ADDED events first, so that what comes later is the namespace created during the stall.
  await new Promise((r) => setTimeout(r, 500));
  proxy.setMode('stall');
  const name = await cluster.createNamespace('stalled');
  await new Promise((r) => setTimeout(r, 1_000));
  assert.ok(!received.includes(name), 'the event went through the stall');
  assert.ok(proxy.stalled > 0, 'nothing was held');
  proxy.setMode('pass');
  const deadline = Date.now() + 5_000;
  while (!received.includes(name) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(received.includes(name), 'the held event never arrived');
  watch.destroy();
});

test('the proxy deafens: a request goes through and takes effect, its answer is held until it lets go', async (t) => {
  const proxy = await startTcpProxy(Number(new URL(cp.server).port));
  // One connection, handshaken before the proxy deafens: a new one could not finish its TLS handshake.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => {
    agent.destroy();
    return proxy.close();
  });
  const request = (method: string, path: string, body?: object): Promise<number> =>
    new Promise((res, rej) => {
      const req = https.request(`https://127.0.0.1:${proxy.port}${path}`, {
        method,
        agent,
        ca: readFileSync(cp.caFile),
        headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
      });
      req.once('response', (resp) => {
        resp.resume();
        resp.once('end', () => res(resp.statusCode ?? 0));
      });
      req.once('error', rej);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  assert.equal(await request('GET', '/version'), 200);
  proxy.setMode('deafen');
  const name = `deafened-${Date.now()}`;
  let answered = false;
  const created = request('POST', '/api/v1/namespaces', { metadata: { name } }).then((status) => {
    answered = true;
    return status;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !(await cluster.core.listNamespace()).items.some((n) => n.metadata?.name === name))
    await new Promise((r) => setTimeout(r, 50));
  assert.equal((await cluster.core.readNamespace({ name })).metadata?.name, name, 'the request did not go through');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(answered, false, 'the answer went through');
  assert.ok(proxy.stalled > 0, 'nothing was held');
  proxy.setMode('pass');
  assert.equal(await created, 201);
});

test('kube-apiserver killed with SIGKILL comes back on the same port and etcd', async () => {
  const name = await cluster.createNamespace('killed');
  await cp.killApiserver();
  await assert.rejects(get('/version', cp.adminToken));
  await cp.startApiserver();
  assert.equal((await clusterFor(cp).core.readNamespace({ name })).metadata?.name, name);
});

test("etcd's revision moves with every write", async () => {
  const before = await cp.etcdRevision();
  await cluster.createNamespace('revision');
  assert.ok((await cp.etcdRevision()) > before);
});

// Generous: after an API server restart the controller manager's informers come back with their own backoff, which
// grows with the time the server took to start (tens of seconds on a loaded machine).
const GONE_WITHIN_S = 180;

async function gone(read: () => Promise<object>, what: string): Promise<void> {
  const deadline = Date.now() + GONE_WITHIN_S * 1000;
  for (;;) {
    let status: unknown;
    try {
      status = ((await read()) as { status?: unknown }).status;
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return;
      throw err;
    }
    assert.ok(Date.now() < deadline, `${what} still there after ${GONE_WITHIN_S} s; its status: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test(
  'beside the controller manager, garbage is collected and a deleted namespace goes, also after an apiserver restart',
  needsControllerManager(),
  async () => {
    const { core } = cluster;
    const namespace = await cluster.createNamespace('controllers');
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' } } });
    const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' }];
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owned', ownerReferences } } });
    await core.deleteNamespacedConfigMap({ namespace, name: 'owner' });
    await gone(() => core.readNamespacedConfigMap({ namespace, name: 'owned' }), 'a ConfigMap whose owner was deleted');

    await cp.stopApiserver();
    await cp.startApiserver();
    const restarted = clusterFor(cp).core;
    await restarted.deleteNamespace({ name: namespace });
    await gone(() => restarted.readNamespace({ name: namespace }), `namespace ${namespace}`);
  },
);
