import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { connect } from '../../src/kube/client.js';
import type { ApiRequest } from '../../src/kube/http.js';
import { releaseFinalizers } from '../../src/members/finalizers.js';
import { GROUP, lines, schemalessCrd, useControlPlane, waitFor } from './support.js';

// Upgrading a cluster that ran the original hello-world operator, and the CRD commands' own reports:
// the original CRD as its users applied it (kubectl, client-side), Members of that era, then install-crd.

const env = useControlPlane({ installCrd: false });
const CRD = `members.${GROUP}`;
const LABEL = `customresourcedefinition ${CRD}`;
const FINALIZER = `${GROUP}/farewell`;
const FIXTURES = fileURLToPath(new URL('../fixtures/hello-world-operator-rs/', import.meta.url));
const members = { group: GROUP, version: 'v1', plural: 'members' };
const ERA = ['blank', 'nospec', 'numeric', 'patrick', 'spongebob', 'toplevel', 'unknown'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    // A cache of its own: kubectl's in the home folder would outlive the test control plane.
    const own = ['--kubeconfig', env.cp.kubeconfig, '--cache-dir', join(env.cp.dir, 'kubectl-cache')];
    const child = execFile('kubectl', [...own, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    // kubectl may exit before it reads stdin (an error, or no -f -): the EPIPE that follows is not the test's concern.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

async function ok(run: Promise<Run>, what: string): Promise<Run> {
  const r = await run;
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r;
}

/**
 * The original CRD, as its users installed it. kube-apiserver serves apiextensions.k8s.io/v1beta1 up to 1.21;
 * from 1.22 on no client can make a CRD that keeps unknown fields without a schema, and what a cluster upgraded
 * since holds is the v1 form of it: a root schema that keeps every field, which install-crd migrates alike.
 */
async function installOriginalCrd(verb: 'apply' | 'create' | 'replace'): Promise<void> {
  if (await servesV1beta1()) await ok(kubectl([verb, '-f', `${FIXTURES}crd.yaml`]), `kubectl ${verb} the original CRD`);
  else if (verb === 'replace') await replaceWithSchemaless();
  else await env.cluster.ext.createCustomResourceDefinition({ body: schemalessCrd() });
  await waitFor('members to be served', async () => (await kubectl(['get', 'members', '-A'])).code === 0 || undefined);
}

async function servesV1beta1(): Promise<boolean> {
  return (await kubectl(['get', '--raw', '/apis/apiextensions.k8s.io/v1beta1'])).code === 0;
}

async function replaceWithSchemaless(): Promise<void> {
  const current = await env.cluster.ext.readCustomResourceDefinition({ name: CRD });
  await env.cluster.ext.replaceCustomResourceDefinition({ name: CRD, body: schemalessCrd(current.metadata?.resourceVersion) });
}

async function uninstall(): Promise<void> {
  const r = await env.cli(['uninstall-crd', '--yes']);
  assert.equal(r.code, 0, r.stderr);
}

interface StoredCrd {
  metadata: { resourceVersion: string };
  spec: {
    preserveUnknownFields?: boolean;
    versions: Array<{
      schema?: { openAPIV3Schema: { properties?: Record<string, { properties?: Record<string, { type: string }> }> } };
      subresources?: { status?: object };
      additionalPrinterColumns?: Array<{ name: string }>;
    }>;
  };
}

async function readCrd(): Promise<StoredCrd> {
  return JSON.parse((await ok(kubectl(['get', 'crd', CRD, '-o', 'json']), 'get crd')).stdout) as StoredCrd;
}

interface Stored {
  metadata: { name: string; annotations?: Record<string, string>; finalizers?: string[] };
  spec?: { memberOf?: unknown; role?: unknown };
  memberOf?: unknown;
}

async function readMembers(namespace: string): Promise<Record<string, Stored>> {
  const list = (await env.cluster.custom.listNamespacedCustomObject({ ...members, namespace })) as { items: Stored[] };
  return Object.fromEntries(list.items.map((m) => [m.metadata.name, m]));
}

async function applyEraMembers(namespace: string): Promise<void> {
  // Without client-side validation, as against the original CRD, which published no schema: kubectl may still
  // hold (and the API server still publish, for a moment) the schema of a CRD of the same name deleted just before.
  await ok(kubectl(['apply', '--validate=false', '-n', namespace, '-f', `${FIXTURES}members.yaml`]), 'kubectl apply the era members');
}

/** The teams given to the members whose team the schema refuses, as the hint says. */
const MENDED: Record<string, string> = { blank: 'yellow', numeric: 'blue' };

const misfit = {
  blank: (ns: string) => `${ns}/blank: spec.memberOf: must not be empty`,
  numeric: (ns: string) => `${ns}/numeric: spec.memberOf: must be a string, is a number: 42`,
  toplevel: (ns: string) =>
    `${ns}/toplevel: memberOf: not in the schema, dropped at the member's next write: "red" (the schema has spec.memberOf)`,
  unknown: (ns: string) => `${ns}/unknown: spec.role: not in the schema, dropped at the member's next write: "lead"`,
};

test("install-crd upgrades the original operator's CRD in place: members are checked first, nothing is lost unreported", async () => {
  await uninstall();
  const ns = await env.cluster.createNamespace('era');
  await installOriginalCrd('apply');
  await applyEraMembers(ns);
  const original = await readCrd();
  const stored = await readMembers(ns);

  // Before any migration: watch and apply-member work, and a team that is not a string is no team.
  const watched = await env.cli(['-n', ns, 'watch', '--count', '7'], { timeoutMs: 30_000 });
  assert.equal(watched.code, 0, watched.stderr);
  assert.deepEqual(lines(watched.stdout).sort(), [
    'welcome blank',
    'welcome nospec',
    'welcome numeric',
    'welcome patrick to the team blue',
    'welcome spongebob',
    'welcome toplevel',
    'welcome unknown to the team green',
  ]);

  await assertRefusedAndUntouched(ns, original, stored);
  // Mended as the hint says, on the old CRD.
  for (const [name, team] of Object.entries(MENDED)) {
    const mended = await env.cli(['-n', ns, 'apply-member', name, '--team', team]);
    assert.equal(mended.stdout, `member.helloworld.apimeister.com/${name} configured\n`, mended.stderr);
  }
  await assertForcedDryRun(ns, original);
  await assertForcedInstall(ns);
  await assertNothingLostUnreported(ns, stored);
  await watchApplyDeleteEach(ns);
});

/** What does not fit is listed by the check and by install-crd, with or without --dry-run; nothing changes. */
async function assertRefusedAndUntouched(ns: string, original: StoredCrd, stored: Record<string, Stored>): Promise<void> {
  const listed = [misfit.blank(ns), misfit.numeric(ns), misfit.toplevel(ns), misfit.unknown(ns)];
  for (const args of [['check'], ['install-crd', '--dry-run'], ['install-crd']]) {
    const r = await env.cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual(lines(r.stdout).sort(), listed, args.join(' '));
    assert.match(r.stderr, /^error: 4 of 7 members .*do not fit/m);
    assert.match(r.stderr, /^hint: .*`member-watch apply-member NAME -n NAMESPACE --team TEAM`/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  assert.equal((await readCrd()).metadata.resourceVersion, original.metadata.resourceVersion, 'the CRD was not changed');
  assert.deepEqual(await readMembers(ns), stored, 'no member was changed');
}

async function assertForcedDryRun(ns: string, original: StoredCrd): Promise<void> {
  const dry = await env.cli(['install-crd', '--dry-run', '--force']);
  assert.equal(dry.code, 0, dry.stderr);
  const dryLines = lines(dry.stdout);
  assert.deepEqual(dryLines.slice(0, 2).sort(), [misfit.toplevel(ns), misfit.unknown(ns)]);
  assert.equal(dryLines[2], `${LABEL} would be configured (server dry run)`);
  const changes = [
    '  + spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.memberOf.maxLength: 63',
    '  + spec.versions[0].subresources.status: {}',
    '  + spec.versions[0].additionalPrinterColumns[0].name: "Team"',
  ];
  // Only a v1beta1 CRD can have kept unknown fields this way (see installOriginalCrd).
  if (original.spec.preserveUnknownFields === true) changes.push('  ~ spec.preserveUnknownFields: true -> false');
  for (const change of changes) assert.ok(dryLines.includes(change), `${change} in:\n${dry.stdout}`);
  assert.equal((await readCrd()).metadata.resourceVersion, original.metadata.resourceVersion, 'a dry run changes nothing');
}

async function assertForcedInstall(ns: string): Promise<void> {
  const forced = await env.cli(['install-crd', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  const out = lines(forced.stdout);
  assert.deepEqual([...out.slice(0, 2).sort(), ...out.slice(2)], [misfit.toplevel(ns), misfit.unknown(ns), `${LABEL} configured`]);
  assert.match(forced.stderr, /^warning: 2 of 7 members do not fit the new schema; going on because of --force/m);
  const migrated = await readCrd();
  assert.notEqual(migrated.spec.preserveUnknownFields, true);
  const version = migrated.spec.versions[0];
  assert.equal(version?.schema?.openAPIV3Schema.properties?.['spec']?.properties?.['memberOf']?.type, 'string');
  assert.deepEqual(version?.subresources?.status, {});
  assert.equal(version?.additionalPrinterColumns?.[0]?.name, 'Team');

  // A second run has nothing to change and nothing to wait for.
  const again = await env.cli(['install-crd']);
  assert.equal(again.stdout, `${LABEL} unchanged\n`, again.stderr);
  assert.doesNotMatch(again.stderr, /waiting/);
}

/** Teams, annotations and names as before; only the fields that were listed are gone. */
async function assertNothingLostUnreported(ns: string, stored: Record<string, Stored>): Promise<void> {
  const after = await readMembers(ns);
  assert.deepEqual(Object.keys(after).sort(), ERA);
  for (const name of ERA) {
    assert.deepEqual(after[name]?.metadata.annotations, stored[name]?.metadata.annotations, name);
    const team = MENDED[name] ?? stored[name]?.spec?.memberOf;
    assert.equal(after[name]?.spec?.memberOf, team, name);
  }
  assert.equal(after['toplevel']?.memberOf, undefined);
  assert.equal(after['unknown']?.spec?.role, undefined);
}

async function watchApplyDeleteEach(ns: string): Promise<void> {
  const watch = env.spawn(['-n', ns, 'watch']);
  try {
    // Existing members are greeted in the watch cache's order, which is none.
    const welcomed: string[] = [];
    while (welcomed.length < ERA.length) welcomed.push((await watch.waitForLine((l) => l.startsWith('welcome '))).split(' ')[1] ?? '');
    assert.deepEqual(welcomed.sort(), ERA);
    for (const name of ERA) {
      const applied = await env.cli(['-n', ns, 'apply-member', name, '--team', `team-${name}`]);
      assert.equal(applied.stdout, `member.helloworld.apimeister.com/${name} configured\n`, applied.stderr);
      await watch.waitForLine((l) => l.startsWith(name) && l.endsWith(`team team-${name}`));
    }
    for (const name of ERA) {
      const deleted = await env.cli(['-n', ns, 'delete-member', name]);
      assert.equal(deleted.code, 0, deleted.stderr);
      await watch.waitForLine((l) => l === `sad to see you go ${name}`);
    }
  } finally {
    watch.kill();
    await watch.done;
  }
}

test('install-crd takes over the original CRD made by another field manager; members that all fit are said to', async () => {
  await uninstall();
  const ns = await env.cluster.createNamespace('created');
  await installOriginalCrd('create');
  await ok(
    kubectl(
      ['create', '-n', ns, '-f', '-'],
      'apiVersion: helloworld.apimeister.com/v1\nkind: Member\nmetadata: {name: patrick}\nspec: {memberOf: blue}\n',
    ),
    'create',
  );
  const r = await env.cli(['install-crd']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${LABEL} configured\n`);
  assert.match(r.stderr, /^1 member checked: every one fits the new schema$/m);
  const applied = await env.cli(['-n', ns, 'apply-member', 'sandy', '--team', 'green']);
  assert.equal(applied.code, 0, applied.stderr);
});

test('the way back: the original CRD replaced over the new one shows what was never written again; uninstall then reinstall', async () => {
  await uninstall();
  const ns = await env.cluster.createNamespace('back');
  await installOriginalCrd('apply');
  await applyEraMembers(ns);
  assert.equal((await env.cli(['install-crd', '--force'])).code, 0);
  assert.equal((await readMembers(ns))['toplevel']?.memberOf, undefined, 'pruned when read');

  // Through apiextensions.k8s.io/v1 (the only version from 1.22 on), preserveUnknownFields cannot go back to true;
  // a schema that keeps every field can, and what was never written since the upgrade shows again.
  const refused = await kubectl(['patch', 'crd', CRD, '--type', 'merge', '-p', '{"spec":{"preserveUnknownFields":true}}']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /cannot set to true/);
  await replaceWithSchemaless();
  await assertShownAgain(ns);
  // Where v1beta1 is served, replace puts the old definition back whole (kubectl apply would keep what
  // server-side apply set).
  if (await servesV1beta1()) {
    await installOriginalCrd('replace');
    assert.equal((await readCrd()).spec.preserveUnknownFields, true);
    await assertShownAgain(ns);
  }

  await uninstall();
  assert.equal((await env.cli(['check'])).code, 4, 'no CRD, nothing to check');
  await installOriginalCrd('apply');
  await applyEraMembers(ns);
  const watched = await env.cli(['-n', ns, 'watch', '--count', `${ERA.length}`], { timeoutMs: 30_000 });
  assert.equal(watched.code, 0, watched.stderr);
  assert.equal(lines(watched.stdout).length, ERA.length);
  await uninstall();
});

test('check on a migrated cluster reads page by page and finds what the schema refuses at the next write', async () => {
  await uninstall();
  const ns = await env.cluster.createNamespace('paged');
  await installOriginalCrd('apply');
  const many = Array.from(
    { length: 505 },
    (_, i) => `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: m${i}\nspec:\n  memberOf: t${i % 7}\n`,
  );
  const applied = await env.cli(['-n', ns, 'apply-member', '-f', '-'], { input: many.join('---\n'), timeoutMs: 60_000 });
  assert.equal(applied.code, 0, applied.stderr);
  await applyEraMembers(ns);
  assert.equal((await env.cli(['install-crd', '--force'])).code, 0);

  const r = await env.cli(['-n', ns, 'check', '--debug']);
  assert.equal(r.code, 2, r.stderr);
  // Fields the schema does not know are pruned from every read now: only the refused teams can be seen.
  assert.deepEqual(lines(r.stdout).sort(), [misfit.blank(ns), misfit.numeric(ns)]);
  assert.match(r.stderr, /drops the fields its schema does not know/);
  assert.match(r.stderr, new RegExp(`^error: 2 of 512 members in namespace ${ns} do not fit the schema$`, 'm'));
  assert.match(r.stderr, /^hint: fix each member listed: kubectl patch member NAME -n NAMESPACE --type merge/m);
  assert.ok(lines(r.stderr).filter((l) => /GET \S+\/members\?limit=500/.test(l)).length >= 2, 'read in pages');

  for (const name of Object.keys(MENDED)) {
    await ok(kubectl(['patch', 'member', name, '-n', ns, '--type', 'merge', '-p', `{"spec":{"memberOf":"${MENDED[name]}"}}`]), 'mend');
  }
  const fixed = await env.cli(['-n', ns, 'check']);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(fixed.stdout, '');
  assert.match(fixed.stderr, new RegExp(`^512 members checked in namespace ${ns}: every one fits the schema$`, 'm'));
});

async function assertShownAgain(ns: string): Promise<void> {
  const back = await waitFor('unknown fields to be shown again', async () => {
    const read = await readMembers(ns);
    return read['toplevel']?.memberOf === undefined ? undefined : read;
  });
  assert.equal(back['toplevel']?.memberOf, 'red', 'stored before the schema, never written since: still there');
  assert.equal(back['unknown']?.spec?.role, 'lead');
}

async function createHeld(namespace: string, name: string, finalizers: string[]): Promise<void> {
  await env.cluster.custom.createNamespacedCustomObject({
    ...members,
    namespace,
    body: { apiVersion: `${GROUP}/v1`, kind: 'Member', metadata: { name, finalizers }, spec: {} },
  });
}

test("uninstall-crd releases the operator's finalizer, names the others; install-crd waits for a deletion or names what holds it", async () => {
  await uninstall();
  const ns = await env.cluster.createNamespace('held');
  assert.equal((await env.cli(['install-crd'])).code, 0);
  await createHeld(ns, 'kept', ['example.com/keep', FINALIZER]);
  await createHeld(ns, 'ours', [FINALIZER]);
  await createHeld(ns, 'free', []);

  // --timeout 0s checks once: the CRD is still there, held by a finalizer that is not ours.
  const started = Date.now();
  const stuck = await env.cli(['uninstall-crd', '--yes', '--timeout', '0s']);
  assert.ok(Date.now() - started < 15_000, 'checked once, did not wait');
  assert.equal(stuck.code, 5, stuck.stderr);
  assert.equal(stuck.stdout, `finalizer ${FINALIZER} removed from 2 members\n`);
  assert.match(
    stuck.stderr,
    new RegExp(
      `^error: timed out after 0s waiting for the Member CRD to be deleted: 1 member held by finalizers: ${ns}/kept \\(example.com/keep\\)$`,
      'm',
    ),
  );
  const kept = await waitFor('ours and free to go', async () => {
    const left = await readMembers(ns);
    return Object.keys(left).length === 1 ? left : undefined;
  });
  assert.deepEqual(kept['kept']?.metadata.finalizers, ['example.com/keep']);

  // Being deleted is not installed: install-crd does not say "unchanged", and says what holds the deletion.
  const refused = await env.cli(['install-crd', '--timeout', '0s']);
  assert.equal(refused.code, 5, refused.stderr);
  assert.doesNotMatch(refused.stdout, /unchanged/);
  assert.match(
    refused.stderr,
    new RegExp(`^error: timed out after 0s .*: 1 member held by finalizers: ${ns}/kept \\(example.com/keep\\)$`, 'm'),
  );
  const dry = await env.cli(['install-crd', '--dry-run']);
  assert.equal(dry.stdout, `${LABEL} is being deleted: it would be created once the deletion ends (server dry run)\n`, dry.stderr);

  // Within its --timeout it waits for the deletion to end, then creates the CRD.
  const install = env.spawn(['install-crd', '--timeout', '60s']);
  await waitFor('install-crd to wait', () => install.stderr().includes('waiting for the deletion to end') || undefined);
  await ok(
    kubectl(['patch', 'member', 'kept', '-n', ns, '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']),
    'let go',
  );
  const installed = await install.done;
  assert.equal(installed.code, 0, installed.stderr);
  assert.equal(installed.stdout, `${LABEL} created\n`);

  // The CRD deleted by someone else while the operator's finalizer holds a member: the hint says how to let go.
  await createHeld(ns, 'ours', [FINALIZER]);
  await ok(kubectl(['delete', 'crd', CRD, '--wait=false']), 'delete crd');
  const held = await env.cli(['install-crd', '--timeout', '0s']);
  assert.equal(held.code, 5, held.stderr);
  assert.match(held.stderr, new RegExp(`${ns}/ours \\(${FINALIZER}\\)`));
  assert.match(held.stderr, /^hint: `member-watch uninstall-crd --yes` removes the operator's finalizer/m);
  const released = await env.cli(['uninstall-crd', '--yes']);
  assert.equal(released.code, 0, released.stderr);
  assert.equal(released.stdout, `finalizer ${FINALIZER} removed from 1 member\n${LABEL} deleted\n`);

  // Already gone: the state asked for holds.
  const gone = await env.cli(['uninstall-crd', '--yes']);
  assert.equal(gone.code, 0, gone.stderr);
  assert.equal(gone.stdout, `${LABEL} is not installed: nothing to delete\n`);
});

test('install-crd refused by RBAC names the verb the API server checked: patch', async () => {
  await uninstall();
  assert.equal((await env.cli(['install-crd'])).code, 0);
  const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'crd-reader' } };
  const rules = [{ apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list'] }];
  await ok(kubectl(['apply', '-f', '-'], JSON.stringify({ ...role, rules })), 'role');
  await ok(kubectl(['create', 'clusterrolebinding', 'crd-reader', '--clusterrole=crd-reader', '--user=nobody']), 'binding');
  const r = await env.cli(['install-crd'], { kubeconfig: env.cp.kubeconfigFor({ context: 'nobody' }) });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^error: forbidden: user nobody may not patch customresourcedefinitions.apiextensions.k8s.io/m);
  assert.match(r.stderr, /^hint: .*"patch"/m);
});

test("releaseFinalizers takes only the operator's finalizer, also when another one moves it between the list and the patch", async () => {
  await uninstall();
  const ns = await env.cluster.createNamespace('race');
  assert.equal((await env.cli(['install-crd'])).code, 0);
  await createHeld(ns, 'raced', [FINALIZER]);
  const kube = connect({ kubeconfig: env.cp.kubeconfig });
  try {
    // Just before the first patch, someone puts a finalizer in front of ours: the patch read index 0.
    const json = kube.http.json.bind(kube.http);
    let raced = false;
    kube.http.json = async <T>(req: ApiRequest): Promise<T> => {
      if (req.method === 'PATCH' && !raced) {
        raced = true;
        await ok(
          kubectl([
            'patch',
            'member',
            'raced',
            '-n',
            ns,
            '--type',
            'merge',
            '-p',
            `{"metadata":{"finalizers":["example.com/first","${FINALIZER}"]}}`,
          ]),
          'race',
        );
      }
      return json<T>(req);
    };
    const report = await releaseFinalizers(kube, { namespace: ns });
    assert.ok(raced);
    assert.deepEqual(report, { released: 1, skipped: 0, failed: [] });
    assert.deepEqual((await readMembers(ns))['raced']?.metadata.finalizers, ['example.com/first']);
  } finally {
    kube.close();
    await ok(
      kubectl(['patch', 'member', 'raced', '-n', ns, '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']),
      'let go',
    );
  }
});
