import assert from 'node:assert/strict';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { type Fault, startHttpFaultProxy } from '../harness/http-fault-proxy.js';
import { GROUP, lines, useControlPlane, waitFor } from './support.js';
import { bindNobody, createHeld, kubectl, memberDoc, membersFile, membersIn, REF, releaseHeld, writeFile } from './write-support.js';

// What apply-member and delete-member promise, row by row (docs/reliability.md, "Writes"), against the real
// control plane: a member gets exactly the team and labels asked for whatever wrote it before, the same member
// twice in a file is applied in file order, input is read as kubectl reads it, answers are checked.

const env = useControlPlane();

test('every history ends with exactly the team and labels asked for: "without --team the member has no team"', async () => {
  const ns = await env.cluster.createNamespace('history');
  const manifest = (name: string): string => memberDoc({ name, namespace: ns, team: 'green', labels: { a: '1' } });
  // The ways a member with a team and a label comes to be, each as its writer leaves it (managers, annotations).
  const histories: Record<string, (name: string) => Promise<unknown>> = {
    'member-watch': (name) => env.cli(['-n', ns, 'apply-member', name, '--team', 'green', '-l', 'a=1']),
    // What member-watch up to 0.1 did: server-side apply, forced, as manager member-watch.
    'member-watch 0.1 (server-side apply)': (name) =>
      kubectl(env, ['apply', '--server-side', '--force-conflicts', '--field-manager', 'member-watch', '-f', '-'], manifest(name)),
    'kubectl apply': (name) => kubectl(env, ['apply', '-f', '-'], manifest(name)),
    'kubectl apply --server-side': (name) => kubectl(env, ['apply', '--server-side', '-f', '-'], manifest(name)),
    // Also how the Rust operator's sample manifests were installed: a Member with spec.memberOf, plainly created.
    'kubectl create': (name) => kubectl(env, ['create', '-f', '-'], manifest(name)),
    // A first apply that sets no field owns nothing; the fields set later by an update belong to that update.
    'member-watch without a team, then kubectl patch': async (name) => {
      await env.cli(['-n', ns, 'apply-member', name]);
      await kubectl(env, [
        'patch',
        'member',
        name,
        '-n',
        ns,
        '--type=merge',
        '-p',
        '{"spec":{"memberOf":"green"},"metadata":{"labels":{"a":"1"}}}',
      ]);
    },
  };
  let i = 0;
  for (const [history, make] of Object.entries(histories)) {
    const name = `tom-${++i}`;
    await make(name);
    assert.deepEqual(pick(await env.getMember(ns, name)), { team: 'green', labels: { a: '1' } }, history);
    const bare = await env.cli(['-n', ns, 'apply-member', name]);
    assert.equal(bare.stdout, `${REF}${name} configured\n`, `${history}: ${bare.stderr}`);
    assert.deepEqual(pick(await env.getMember(ns, name)), { team: undefined, labels: {} }, history);
    assert.equal((await env.cli(['-n', ns, 'apply-member', name])).stdout, `${REF}${name} unchanged\n`, history);
    const again = await env.cli(['-n', ns, 'apply-member', name, '--team', 'blue', '-l', 'b=2']);
    assert.equal(again.stdout, `${REF}${name} configured\n`, history);
    assert.deepEqual(pick(await env.getMember(ns, name)), { team: 'blue', labels: { b: '2' } }, history);
    // From a file, likewise: the document decides.
    const file = membersFile(env, [{ name, labels: { c: '3' } }]);
    assert.equal((await env.cli(['-n', ns, 'apply-member', '-f', file])).stdout, `${REF}${name} configured\n`, history);
    assert.deepEqual(pick(await env.getMember(ns, name)), { team: undefined, labels: { c: '3' } }, history);
  }
});

function pick(member: { spec?: { memberOf?: string }; metadata: { labels?: Record<string, string> } } | undefined): object {
  return { team: member?.spec?.memberOf, labels: member?.metadata.labels ?? {} };
}

test("the README's sequence: tom, tom --team green, tom leaves tom without a team", async () => {
  const ns = await env.cluster.createNamespace('readme');
  const steps: Array<[string[], string, string | undefined]> = [
    [['tom'], 'created', undefined],
    [['tom', '--team', 'green'], 'configured', 'green'],
    [['tom'], 'configured', undefined],
    [['tom'], 'unchanged', undefined],
  ];
  for (const [args, outcome, team] of steps) {
    const r = await env.cli(['-n', ns, 'apply-member', ...args]);
    assert.equal(r.stdout, `${REF}tom ${outcome}\n`, `${args.join(' ')}: ${r.stderr}`);
    assert.equal((await env.getMember(ns, 'tom'))?.spec?.memberOf, team, args.join(' '));
  }
});

test('a writer between the read and the write is never overwritten unseen: the member is read again', async () => {
  const ns = await env.cluster.createNamespace('race');
  await env.createMember(ns, 'pat', 'green');
  const proxy = await startHttpFaultProxy(env.cp);
  try {
    // The patch is held while another writer adds a label: the resourceVersion it carries is stale by then.
    const held = proxy.holdNext('PATCH');
    const run = env.cli(['-n', ns, 'apply-member', 'pat', '-l', 'b=2'], { kubeconfig: proxy.kubeconfig });
    await held.arrived;
    await kubectl(env, ['label', 'member', 'pat', '-n', ns, 'z=9']);
    held.release();
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${REF}pat configured\n`);
    assert.deepEqual(pick(await env.getMember(ns, 'pat')), { team: undefined, labels: { b: '2' } });

    // Created by someone else between the read (absent) and the create: reported as what it was, configured.
    const create = proxy.holdNext('POST');
    const second = env.cli(['-n', ns, 'apply-member', 'sam', '--team', 'blue'], { kubeconfig: proxy.kubeconfig });
    await create.arrived;
    await env.createMember(ns, 'sam', 'red');
    create.release();
    const s = await second;
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, `${REF}sam configured\n`);
    assert.equal((await env.getMember(ns, 'sam'))?.spec?.memberOf, 'blue');
  } finally {
    await proxy.close();
  }
});

test('a 429 or 5xx with Retry-After is asked again after that long, up to 10 times, as kubectl does; without it, not', async () => {
  const ns = await env.cluster.createNamespace('retry-after');
  const proxy = await startHttpFaultProxy(env.cp);
  try {
    // What a current API server answers for a moment after a CRD changed: 429 "storage is (re)initializing".
    proxy.inject({ status: 429, retryAfterSeconds: 1, times: 3 });
    const started = Date.now();
    const done = await env.cli(['-n', ns, 'apply-member', 'ria', '--team', 'blue'], { kubeconfig: proxy.kubeconfig });
    assert.equal(done.code, 0, done.stderr);
    assert.ok(Date.now() - started >= 3_000, `asked again after ${Date.now() - started} ms, not after 3 x 1 s`);
    assert.equal((await env.getMember(ns, 'ria'))?.spec?.memberOf, 'blue');

    const tries = async (fault: Fault): Promise<{ code: number | null; stderr: string; requests: number }> => {
      proxy.inject(fault);
      const before = proxy.requests;
      const r = await env.cli(['-n', ns, 'apply-member', 'ria', '--team', 'red'], { kubeconfig: proxy.kubeconfig });
      proxy.inject(undefined);
      return { code: r.code, stderr: r.stderr, requests: proxy.requests - before };
    };
    const exhausted = await tries({ status: 503, retryAfterSeconds: 0 });
    assert.equal(exhausted.code, 3, exhausted.stderr);
    assert.match(exhausted.stderr, /HTTP 503/);
    assert.equal(exhausted.requests, 11, 'the first request and 10 more');
    const final = await tries({ status: 503 });
    assert.equal(final.code, 3, final.stderr);
    assert.equal(final.requests, 1, 'a 503 that does not say when to ask again is not asked again');
    assert.equal((await env.getMember(ns, 'ria'))?.spec?.memberOf, 'blue');
  } finally {
    await proxy.close();
  }
});

test('-o json and -o yaml hide managedFields as kubectl does, unless --show-managed-fields', async () => {
  const ns = await env.cluster.createNamespace('managed');
  await env.cli(['-n', ns, 'apply-member', 'kim', '--team', 'x']);
  const shown = await env.cli(['-n', ns, 'apply-member', 'kim', '--team', 'y', '-o', 'json', '--show-managed-fields']);
  assert.ok((JSON.parse(shown.stdout) as { metadata: { managedFields?: unknown[] } }).metadata.managedFields?.length, shown.stdout);
  for (const format of ['json', 'yaml']) {
    const r = await env.cli(['-n', ns, 'apply-member', 'kim', '--team', 'y', '-o', format]);
    const object = yaml.load(r.stdout) as { metadata: Record<string, unknown>; spec: { memberOf: string } };
    assert.equal(object.spec.memberOf, 'y');
    assert.equal('managedFields' in object.metadata, false, r.stdout);
  }
});

test('documents for the same member are applied in file order: the last wins, each line says what it did', async () => {
  // 20 members, each three times (red, then blue, then green), interleaved so that all three are in flight together
  // with 16 workers; five runs, each must give the same result.
  const docs = ['red', 'blue', 'green'].flatMap((team) => Array.from({ length: 20 }, (_, i) => ({ name: `d${i}`, team })));
  const file = membersFile(env, docs);
  for (let run = 0; run < 5; run++) {
    const ns = await env.cluster.createNamespace('dups');
    const r = await env.cli(['-n', ns, 'apply-member', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    const expected = docs.map((d, i) => `${REF}${d.name} ${i < 20 ? 'created' : 'configured'}`);
    assert.deepEqual(lines(r.stdout), expected, `run ${run}`);
    const held = await membersIn(env, ns);
    for (let i = 0; i < 20; i++) assert.equal(held.get(`d${i}`)?.team, 'green', `run ${run}: d${i}`);
  }
});

test('teams are counted as the API server counts: 63 emoji written by kubectl go round through -f -', async () => {
  const ns = await env.cluster.createNamespace('emoji');
  const team = '🙂'.repeat(63);
  await kubectl(env, ['create', '-f', '-'], memberDoc({ name: 'smiley', namespace: ns, team }));
  const exported = await kubectl(env, ['get', 'members', '-n', ns, '-o', 'yaml']);
  const r = await env.cli(['-n', ns, 'apply-member', '-f', '-'], { input: exported });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${REF}smiley unchanged\n`);
  const tooLong = await env.cli(['-n', ns, 'apply-member', 'frowny', '--team', `${team}🙂`]);
  assert.equal(tooLong.code, 2);
  assert.match(tooLong.stderr, /at most 63 characters \(it has 64\)/);
});

test('YAML is read as kubectl reads it: dates are strings, a number where a string belongs is a wrong type', async () => {
  const ns = await env.cluster.createNamespace('yaml');
  const dated = writeFile(
    env,
    'dated.yaml',
    `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: 2001-12-14\nspec:\n  memberOf: 2024-01-01\n`,
  );
  const r = await env.cli(['-n', ns, 'apply-member', '-f', dated]);
  assert.equal(r.stdout, `${REF}2001-12-14 created\n`, r.stderr);
  assert.equal((await env.getMember(ns, '2001-12-14'))?.spec?.memberOf, '2024-01-01');

  const numbered = writeFile(env, 'numbered.yaml', `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: 123\n`);
  const n = await env.cli(['-n', ns, 'apply-member', '-f', numbered]);
  assert.equal(n.code, 2);
  assert.match(n.stderr, /document 1: metadata.name must be a string, found the number 123 \(quote it to keep it as text: "123"\)/);
  const yes = writeFile(env, 'yes.yaml', `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: yy\nspec:\n  memberOf: yes\n`);
  assert.match((await env.cli(['-n', ns, 'apply-member', '-f', yes])).stderr, /spec.memberOf must be a string, found the boolean yes/);
});

test('delete-member: the same name twice is one member; --all on an empty namespace says so', async () => {
  const ns = await env.cluster.createNamespace('deldup');
  await env.createMember(ns, 'dd');
  const r = await env.cli(['-n', ns, 'delete-member', 'dd', 'dd']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${REF}dd deleted\n`);
  const empty = await env.cli(['-n', ns, 'delete-member', '--all']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, '');
  assert.equal(empty.stderr, `no members in namespace ${ns}\n`);
});

test("a file over several namespaces names each line's namespace; -o json of a partly failed file is a List", async () => {
  const [one, two] = [await env.cluster.createNamespace('multi'), await env.cluster.createNamespace('multi')];
  const file = membersFile(env, [
    { name: 'ann', namespace: one },
    { name: 'ann', namespace: two },
  ]);
  const r = await env.cli(['apply-member', '-f', file]);
  assert.deepEqual(lines(r.stdout), [`${REF}ann created in namespace ${one}`, `${REF}ann created in namespace ${two}`], r.stderr);

  // The second document's namespace does not exist: the server refuses it alone.
  const partial = membersFile(env, [
    { name: 'bea', namespace: one },
    { name: 'bea', namespace: 'no-such-namespace' },
  ]);
  const j = await env.cli(['apply-member', '-f', partial, '-o', 'json']);
  assert.equal(j.code, 3, j.stderr);
  const list = JSON.parse(j.stdout) as { kind: string; items: Array<{ metadata: { name: string; namespace: string } }> };
  assert.equal(list.kind, 'List');
  assert.deepEqual(
    list.items.map((m) => `${m.metadata.namespace}/${m.metadata.name}`),
    [`${one}/bea`],
  );
  assert.match(j.stderr, /document 2: .*namespaces "no-such-namespace" not found/);
  assert.match(j.stderr, /applied 1 of 2 members; not applied: no-such-namespace\/bea/);
});

test('an empty or closed stdin is said to be that, not a file without Members', async () => {
  const r = await env.cli(['apply-member', '-f', '-'], { input: '' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: stdin is empty \(closed, \/dev\/null, or nothing was piped in\)$/m);
  const comments = await env.cli(['apply-member', '-f', '-'], { input: '# nothing\n---\n' });
  assert.match(comments.stderr, /^error: stdin holds no Members$/m);
});

test('an answer that is not a Member is an error, never a line about member undefined', async () => {
  const ns = await env.cluster.createNamespace('garbage');
  const proxy = await startHttpFaultProxy(env.cp);
  try {
    // A read answered 200 with something else: nothing is written.
    proxy.inject({ status: 200, methods: ['GET'], body: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x' } } });
    const read = await env.cli(['-n', ns, 'apply-member', 'pat'], { kubeconfig: proxy.kubeconfig });
    assert.equal(read.code, 3, read.stderr);
    assert.match(
      read.stderr,
      /^error: the API server answered the read of member pat with something that is not a Member: its kind is ConfigMap v1$/m,
    );
    assert.equal(read.stdout, '');
    assert.equal(await env.getMember(ns, 'pat'), undefined);
    // A create answered 200 with an empty object (not a Kubernetes object at all: the client says so before the
    // Member check): whether it happened is not known, and the message says so.
    proxy.inject({ status: 200, methods: ['POST'], body: {} });
    const written = await env.cli(['-n', ns, 'apply-member', 'pat'], { kubeconfig: proxy.kubeconfig });
    assert.equal(written.code, 3, written.stderr);
    assert.match(
      written.stderr,
      /answered with JSON that is not a Kubernetes object \(HTTP 200\): "\{\}"; member pat may or may not have been applied$/m,
    );
    assert.doesNotMatch(written.stdout, /undefined/);
  } finally {
    await proxy.close();
  }
});

test('apply-member refuses to write into a CRD that is being deleted, and into a member that is', async () => {
  const ns = await env.cluster.createNamespace('terminating');
  await createHeld(env, ns);
  await env.cluster.ext.deleteCustomResourceDefinition({ name: `members.${GROUP}` });
  try {
    for (const args of [['newbie'], ['held', '--team', 'x']]) {
      const r = await env.cli(['-n', ns, 'apply-member', ...args]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(
        r.stderr,
        /^error: the Member CRD \(members.helloworld.apimeister.com\) is being deleted \(since .*\): members written now would be deleted with it$/m,
      );
      assert.equal(r.stdout, '');
    }
    // A user who may not read CRDs learns it from the members' answers.
    await bindNobody(env, ns, [{ apiGroups: [GROUP], resources: ['members'], verbs: ['get', 'create', 'patch'] }]);
    const nobody = env.cp.kubeconfigFor({ context: 'nobody' });
    const create = await env.cli(['-n', ns, 'apply-member', 'newbie'], { kubeconfig: nobody });
    assert.equal(create.code, 4, create.stderr);
    assert.match(create.stderr, /is being deleted: members written now would be deleted with it/);
    const update = await env.cli(['-n', ns, 'apply-member', 'held', '--team', 'x'], { kubeconfig: nobody });
    assert.equal(update.code, 3, update.stderr);
    assert.match(
      update.stderr,
      /^error: member held is being deleted \(held by finalizer example.com\/hold\): it can be applied again once it is gone$/m,
    );
    assert.equal(await env.getMember(ns, 'newbie'), undefined);
  } finally {
    await releaseHeld(env, ns);
    await waitFor('the CRD to be gone', async () => {
      try {
        await env.cluster.ext.readCustomResourceDefinition({ name: `members.${GROUP}` });
        return undefined;
      } catch {
        return true;
      }
    });
    assert.equal((await env.cli(['install-crd'])).code, 0);
  }
});
