import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { lines, useControlPlane } from './support.js';

const env = useControlPlane({ installCrd: false });
const CRD = 'members.helloworld.apimeister.com';
const crdFile = readFileSync(new URL('../../crds/member.yaml', import.meta.url), 'utf8');

test('without the CRD, member commands exit 4 and say to run install-crd', async () => {
  const ns = await env.cluster.createNamespace('nocrd');
  for (const args of [['apply-member', 'patrick'], ['delete-member', 'patrick'], ['watch']]) {
    const r = await env.cli(['-n', ns, ...args]);
    assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /the Member CRD \(members.helloworld.apimeister.com\) is not installed/);
    assert.match(r.stderr, /run `member-watch install-crd`/);
  }
  // A file of many members: one error for the file, not one per member.
  const file = join(env.cp.dir, 'nocrd-members.yaml');
  writeFileSync(
    file,
    Array.from({ length: 40 }, (_, i) => `kind: Member\napiVersion: helloworld.apimeister.com/v1\nmetadata:\n  name: m${i}\n`).join(
      '---\n',
    ),
  );
  const many = await env.cli(['-n', ns, 'apply-member', '-f', file]);
  assert.equal(many.code, 4, many.stderr);
  assert.equal(lines(many.stderr).filter((l) => l.startsWith('error:')).length, 1, many.stderr);
  assert.match(many.stderr, /^error: the Member CRD \(members.helloworld.apimeister.com\) is not installed/m);
  assert.equal(many.stdout, '');
});

test('install-crd --print writes the manifest and contacts no cluster', async () => {
  const r = await env.cli(['install-crd', '--print'], { kubeconfig: '/nonexistent/kubeconfig' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, crdFile);
});

test('install-crd --dry-run reports and changes nothing', async () => {
  const r = await env.cli(['install-crd', '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(r.stdout)[0], `customresourcedefinition ${CRD} would be created (server dry run)`);
  await assert.rejects(env.cluster.ext.readCustomResourceDefinition({ name: CRD }));
});

test('install-crd applies the shipped manifest, waits until served, and is idempotent', async () => {
  const first = await env.cli(['install-crd']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, `customresourcedefinition ${CRD} created\n`);
  const crd = await env.cluster.ext.readCustomResourceDefinition({ name: CRD });
  const wanted = yaml.load(crdFile) as { spec: { group: string; names: object; versions: Array<{ schema: object }> } };
  assert.equal(crd.spec.group, wanted.spec.group);
  assert.deepEqual({ ...crd.spec.names }, { ...wanted.spec.names });
  type Schema = { openAPIV3Schema: { properties: { spec: { properties: { memberOf: object } } } } };
  const teamSchema = (s: unknown): object => (s as Schema).openAPIV3Schema.properties.spec.properties.memberOf;
  assert.deepEqual({ ...teamSchema(crd.spec.versions[0]?.schema) }, teamSchema(wanted.spec.versions[0]?.schema));
  assert.ok(crd.metadata?.managedFields?.some((f) => f.manager === 'member-watch'));
  const conditions = Object.fromEntries((crd.status?.conditions ?? []).map((c) => [c.type, c.status]));
  assert.equal(conditions.Established, 'True');
  // Served at once: a member can be applied right after install-crd returns.
  const ns = await env.cluster.createNamespace('served');
  assert.equal((await env.cli(['-n', ns, 'apply-member', 'first'])).code, 0);

  const second = await env.cli(['install-crd']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, `customresourcedefinition ${CRD} unchanged\n`);
  const dry = await env.cli(['install-crd', '--dry-run']);
  assert.equal(dry.stdout, `customresourcedefinition ${CRD} would be unchanged (server dry run)\n`);
});

test('apply-member creates, updates and reports unchanged; the server holds what was applied', async () => {
  const ns = await env.cluster.createNamespace('apply');
  const created = await env.cli(['-n', ns, 'apply-member', 'patrick', '--team', 'blue', '-l', 'role=lead']);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, 'member.helloworld.apimeister.com/patrick created\n');
  let held = await env.getMember(ns, 'patrick');
  assert.equal(held?.spec?.memberOf, 'blue');
  assert.deepEqual(held?.metadata.labels, { role: 'lead' });
  assert.ok(held?.metadata.managedFields?.some((f) => f.manager === 'member-watch'));

  const again = await env.cli(['-n', ns, 'apply-member', 'patrick', '--team', 'blue', '-l', 'role=lead']);
  assert.equal(again.stdout, 'member.helloworld.apimeister.com/patrick unchanged\n');
  const moved = await env.cli(['-n', ns, 'apply-member', 'patrick', '--team', 'red', '-l', 'role=lead']);
  assert.equal(moved.stdout, 'member.helloworld.apimeister.com/patrick configured\n');
  assert.equal((await env.getMember(ns, 'patrick'))?.spec?.memberOf, 'red');

  // Server-side apply: fields we set before and leave out now are removed.
  const teamless = await env.cli(['-n', ns, 'apply-member', 'patrick']);
  assert.equal(teamless.stdout, 'member.helloworld.apimeister.com/patrick configured\n', teamless.stderr);
  held = await env.getMember(ns, 'patrick');
  assert.equal(held?.spec?.memberOf, undefined);
  assert.equal(held?.metadata.labels, undefined);
});

test('apply-member output formats and dry run', async () => {
  const ns = await env.cluster.createNamespace('formats');
  const dry = await env.cli(['-n', ns, 'apply-member', 'sandy', '--team', 'green', '--dry-run']);
  assert.equal(dry.stdout, 'member.helloworld.apimeister.com/sandy created (server dry run)\n');
  assert.equal(await env.getMember(ns, 'sandy'), undefined);

  const name = await env.cli(['-n', ns, 'apply-member', 'sandy', '-o', 'name']);
  assert.equal(name.stdout, 'member.helloworld.apimeister.com/sandy\n');
  const json = await env.cli(['-n', ns, 'apply-member', 'sandy', '--team', 'green', '-o', 'json']);
  const object = JSON.parse(json.stdout) as { kind: string; spec: { memberOf: string }; metadata: { namespace: string } };
  assert.deepEqual([object.kind, object.spec.memberOf, object.metadata.namespace], ['Member', 'green', ns]);
  const asYaml = await env.cli(['-n', ns, 'apply-member', 'sandy', '--team', 'green', '-o', 'yaml']);
  assert.equal((yaml.load(asYaml.stdout) as { spec: { memberOf: string } }).spec.memberOf, 'green');
});

test('apply-member -f applies every document, in order, from a file or stdin', async () => {
  const ns = await env.cluster.createNamespace('file');
  const docs = ['ann', 'bob', 'cid', 'dan', 'eve'].map(
    (n, i) => `apiVersion: helloworld.apimeister.com/v1\nkind: Member\nmetadata:\n  name: ${n}\nspec:\n  memberOf: team-${i}\n`,
  );
  const file = join(env.cp.dir, 'members.yaml');
  writeFileSync(file, docs.join('---\n'));
  const r = await env.cli(['-n', ns, 'apply-member', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    lines(r.stdout),
    ['ann', 'bob', 'cid', 'dan', 'eve'].map((n) => `member.helloworld.apimeister.com/${n} created`),
  );
  assert.equal((await env.getMember(ns, 'dan'))?.spec?.memberOf, 'team-3');

  const fromStdin = await env.cli(['-n', ns, 'apply-member', '-f', '-'], { input: docs[0] });
  assert.equal(fromStdin.stdout, 'member.helloworld.apimeister.com/ann unchanged\n');
});

test('apply-member -f with one bad document applies nothing and names the document', async () => {
  const ns = await env.cluster.createNamespace('badfile');
  const good = 'apiVersion: helloworld.apimeister.com/v1\nkind: Member\nmetadata:\n  name: good\n';
  const file = join(env.cp.dir, 'bad.yaml');
  writeFileSync(file, `${good}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n`);
  const r = await env.cli(['-n', ns, 'apply-member', '-f', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad.yaml document 2: not a Member/);
  assert.match(r.stderr, /nothing was applied/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(await env.getMember(ns, 'good'), undefined);

  writeFileSync(file, `${good}---\nmetadata: [unclosed\n`);
  const broken = await env.cli(['-n', ns, 'apply-member', '-f', file]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /bad.yaml document 2: invalid YAML at line \d+/);
  assert.equal(await env.getMember(ns, 'good'), undefined);
});

test('delete-member deletes, waits, and treats a missing member as an error unless told otherwise', async () => {
  const ns = await env.cluster.createNamespace('delete');
  for (const n of ['a', 'b', 'c']) await env.createMember(ns, n, 'x');
  const one = await env.cli(['-n', ns, 'delete-member', 'a', '--wait']);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout, 'member.helloworld.apimeister.com/a deleted\n');
  assert.equal(await env.getMember(ns, 'a'), undefined);

  const missing = await env.cli(['-n', ns, 'delete-member', 'a']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /member a not found in namespace/);
  assert.equal((await env.cli(['-n', ns, 'delete-member', 'a', '--ignore-not-found'])).code, 0);

  const all = await env.cli(['-n', ns, 'delete-member', '--all', '--wait']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(lines(all.stdout).sort(), ['member.helloworld.apimeister.com/b deleted', 'member.helloworld.apimeister.com/c deleted']);
  assert.equal((await env.cli(['-n', ns, 'delete-member'])).code, 2);
});

test('invalid input is refused before any request, with exit 2 and no stack', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['apply-member', 'Patrick'], /invalid member name "Patrick": a name must consist of lowercase/],
    [['apply-member', 'x'.repeat(254)], /at most 253 characters/],
    [['apply-member', '..'], /invalid member name/],
    [['apply-member', 'p', '--team', 'x'.repeat(64)], /invalid team .*at most 63/],
    [['apply-member', 'p', '--team', 'a\u0007b'], /must not contain control characters/],
    [['apply-member', 'p', '-l', 'bad key=1'], /label key/],
    [['apply-member'], /missing member NAME/],
    [['watch', '--bogus'], /unknown option '--bogus'/],
    [['watch', '--timeout', '10'], /"10" is not a duration/],
    [['watch', '--for', 'joined:p'], /invalid condition "joined:p"/],
    [['uninstall-crd'], /refusing without --yes/],
  ];
  for (const [args, message] of cases) {
    // An unreachable server proves no request was needed to refuse the input.
    const r = await env.cli(args, { kubeconfig: env.cp.kubeconfigFor({ server: 'https://127.0.0.1:1' }) });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('cluster failures say what went wrong and exit 3', async () => {
  const unreachable = await env.cli(['apply-member', 'p'], { kubeconfig: env.cp.kubeconfigFor({ server: 'https://127.0.0.1:1' }) });
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.stderr, /cannot reach the API server at https:\/\/127.0.0.1:1 \(context admin\): connection refused/);

  const forbidden = await env.cli(['-n', 'default', 'apply-member', 'p'], { kubeconfig: env.cp.kubeconfigFor({ context: 'nobody' }) });
  assert.equal(forbidden.code, 3);
  assert.match(forbidden.stderr, /forbidden: user nobody may not get members.helloworld.apimeister.com in namespace default/);
});

test('uninstall-crd --yes deletes the CRD and waits until it is gone', async () => {
  const r = await env.cli(['uninstall-crd', '--yes']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `customresourcedefinition ${CRD} deleted\n`);
  await assert.rejects(env.cluster.ext.readCustomResourceDefinition({ name: CRD }));
  const again = await env.cli(['uninstall-crd', '--yes']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, `customresourcedefinition ${CRD} is not installed: nothing to delete\n`);
});
