// The peer of the operator benchmarks: a minimal operator built the usual Node way. A @kubernetes/client-node
// informer on one namespace's Members; for every member added it logs the welcome, merge-patches the status and
// creates an Event, fire and forget, as informer handlers are written. No leader election, no finalizer, no retries:
// a write that fails is logged (`failed status of NAME: ...`, `failed event of NAME: ...`) and lost.
// Usage: node bench/peer-operator.mjs KUBECONFIG NAMESPACE    ("ready" on stderr once listed and watching)
import { setTimeout } from 'node:timers';
import { CoreV1Api, CustomObjectsApi, KubeConfig, makeInformer, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

const [kubeconfig, namespace] = process.argv.slice(2);
const group = 'helloworld.apimeister.com';
const version = 'v1';
const plural = 'members';

const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function fail(what, err) {
  const reason = err instanceof Error ? err.message : String(err);
  process.stdout.write(`failed ${what}: ${reason.split('\n', 1)[0]}\n`);
}

function welcome(member) {
  const { name, uid, resourceVersion, generation } = member.metadata;
  const team = member.spec?.memberOf;
  const message = team === undefined ? `welcome ${name}` : `welcome ${name} to the team ${team}`;
  process.stdout.write(`${message}\n`);
  const now = new Date();
  const status = { announcedAt: now.toISOString(), observedGeneration: generation };
  if (team !== undefined) status.announcedTeam = team;
  custom
    .patchNamespacedCustomObjectStatus({ group, version, namespace, plural, name, body: { status } }, mergePatch)
    .catch((err) => fail(`status of ${name}`, err));
  core
    .createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${name}.` },
        involvedObject: { apiVersion: `${group}/${version}`, kind: 'Member', name, namespace, uid, resourceVersion },
        reason: 'Welcomed',
        message,
        type: 'Normal',
        source: { component: 'peer-operator' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    })
    .catch((err) => fail(`event of ${name}`, err));
}

const informer = makeInformer(kc, `/apis/${group}/${version}/namespaces/${namespace}/${plural}`, () =>
  custom.listNamespacedCustomObject({ group, version, namespace, plural }),
);
informer.on('add', welcome);
informer.on('error', (err) => {
  fail('watch', err);
  // the documented way to keep an informer going: start it again after an error
  setTimeout(() => informer.start().catch((e) => fail('restart', e)), 1000);
});
await informer.start();
process.stderr.write('ready\n');
