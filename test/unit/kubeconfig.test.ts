import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CliError } from '../../src/errors.js';
import { resolveConfig } from '../../src/kube/config.js';
import { escapeHeaderKey } from '../../src/kube/credentials.js';
import { explainFailure } from '../../src/kube/errors.js';
import { ApiError } from '../../src/kube/failures.js';
import { readKubeconfig } from '../../src/kube/kubeconfig.js';

// The kubeconfig as kubectl v1.32 reads it (each case tried with /usr/bin/kubectl; the side-by-side matrix in
// test/integration/kubectl-matrix.test.ts compares the two against API servers).

const dir = mkdtempSync(join(tmpdir(), 'member-watch-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function file(text: string): string {
  const path = join(dir, `kubeconfig-${++files}`);
  writeFileSync(path, text);
  return path;
}

const CLUSTER = 'clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n';
const context = (fields: string): string => `contexts:\n- name: c\n  context:\n    cluster: k\n${fields}`;

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CliError && err.exitCode === 2, String(err));
    return err.message;
  }
  assert.fail('no error');
}

test('plain scalars that YAML 1.1 reads as numbers or booleans are refused where text belongs, as kubectl does', () => {
  const cases: Array<[string, string]> = [
    ['    namespace: 0123\n', 'contexts[0].context.namespace must be a string, not the number 0123, which YAML reads as 83'],
    ['    namespace: 1e3\n', 'contexts[0].context.namespace must be a string, not the number 1e3, which YAML reads as 1000'],
    ['    namespace: yes\n', 'contexts[0].context.namespace must be a string, not the boolean yes, which YAML reads as true'],
    ['    namespace: 123\n', 'contexts[0].context.namespace must be a string, not the number 123'],
  ];
  for (const [fields, message] of cases) {
    const path = file(CLUSTER + context(fields));
    assert.equal(
      usageMessage(() => readKubeconfig(path)),
      `kubeconfig ${path} is malformed: ${message} (quote it to keep it as text)`,
    );
  }
  // A secret is never repeated, even mistyped.
  for (const [field, value] of [
    ['token', '0x1F'],
    ['token', '12345678901234567890'],
    ['password', '012345'],
  ]) {
    const path = file(`users:\n- name: u\n  user:\n    ${field}: ${value}\n`);
    const message = usageMessage(() => readKubeconfig(path));
    assert.equal(
      message,
      `kubeconfig ${path} is malformed: users[0].user.${field} must be a string, not a number (quote it to keep it as text)`,
    );
  }
});

test('dates, times, quoted numbers and nulls are what kubectl makes of them', () => {
  const config = readKubeconfig(
    file(
      `${CLUSTER}${context('    namespace: 2024-01-01\n    user: ~\n')}users:\n- name: u\n  user:\n    token: "0123"\n    username: 12:30:00\n`,
    ),
  );
  assert.equal(config.contexts[0]?.namespace, '2024-01-01');
  assert.equal(config.contexts[0]?.user, undefined);
  assert.equal(config.users[0]?.token, '0123');
  assert.equal(config.users[0]?.username, '12:30:00');
});

test('booleans are YAML 1.1 booleans: yes and on are true; the text "true" is not a boolean', () => {
  for (const [value, expected] of [
    ['yes', true],
    ['on', true],
    ['Y', true],
    ['true', true],
    ['no', false],
    ['off', false],
  ] as const) {
    const config = readKubeconfig(file(`${CLUSTER}    insecure-skip-tls-verify: ${value}\n`));
    assert.equal(config.clusters[0]?.skipTLSVerify, expected, value);
  }
  const quoted = file(`${CLUSTER}    insecure-skip-tls-verify: "true"\n`);
  assert.match(
    usageMessage(() => readKubeconfig(quoted)),
    /clusters\[0\]\.cluster\.insecure-skip-tls-verify must be true or false, not a string$/,
  );
});

test('only the first YAML document is read; an empty first document or file defines nothing', () => {
  const two = readKubeconfig(file(`${CLUSTER}${context('    namespace: first\n')}---\ncurrent-context: other\n---\n: : [\n`));
  assert.equal(two.contexts[0]?.namespace, 'first');
  assert.equal(two.currentContext, undefined);
  for (const text of ['', '   \n', '# nothing\n', 'null\n', `---\n---\n${CLUSTER}`]) {
    const config = readKubeconfig(file(text));
    assert.deepEqual(
      [config.clusters, config.contexts, config.users, config.currentContext],
      [[], [], [], undefined],
      JSON.stringify(text),
    );
  }
  // A key given twice: the last value, as go-yaml decodes it.
  assert.equal(readKubeconfig(file('current-context: a\ncurrent-context: b\n')).currentContext, 'b');
});

test('a name defined twice in one file, or another apiVersion or kind, is refused as kubectl refuses it', () => {
  const twice = file(`${CLUSTER}- name: k\n  cluster:\n    server: https://127.0.0.2:6443\n`);
  assert.equal(
    usageMessage(() => readKubeconfig(twice)),
    `kubeconfig ${twice} is malformed: clusters[0] and clusters[1] are both named "k"`,
  );
  const users = file('users:\n- name: u\n- name: v\n- name: u\n  user: {token: secret}\n');
  assert.equal(
    usageMessage(() => readKubeconfig(users)),
    `kubeconfig ${users} is malformed: users[0] and users[2] are both named "u"`,
  );
  for (const [head, says] of [
    ['apiVersion: v7\nkind: Config\n', 'apiVersion v7, kind Config'],
    ['apiVersion: apps/v1\n', 'apiVersion apps/v1, kind Config'],
    ['kind: Pod\n', 'apiVersion v1, kind Pod'],
  ]) {
    const path = file(head + CLUSTER);
    assert.equal(
      usageMessage(() => readKubeconfig(path)),
      `kubeconfig ${path} is not a kubeconfig: it says ${says}`,
    );
  }
  assert.equal(readKubeconfig(file(`apiVersion: v1\nkind: Config\n${CLUSTER}`)).clusters.length, 1);
});

test('settings kubectl refuses together are refused, with the fields named', () => {
  const user = (fields: string): string => {
    const path = file(`${CLUSTER}${context('    user: u\n')}current-context: c\nusers:\n- name: u\n  user:\n${fields}`);
    return usageMessage(() => resolveConfig({ kubeconfig: path }, {})).replace(path, 'FILE');
  };
  assert.equal(
    user('    token: a\n    username: b\n    password: c\n'),
    'user "u" in kubeconfig FILE has both a token and a username and password',
  );
  assert.equal(
    user('    tokenFile: /etc/hostname\n    password: c\n'),
    'user "u" in kubeconfig FILE has both a tokenFile and a username and password',
  );
  assert.equal(
    user('    client-certificate: /etc/hostname\n    client-certificate-data: eA==\n'),
    'user "u" in kubeconfig FILE has both client-certificate and client-certificate-data',
  );
  assert.equal(
    user('    client-key: /etc/hostname\n    client-key-data: eA==\n'),
    'user "u" in kubeconfig FILE has both client-key and client-key-data',
  );
  assert.equal(
    user('    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x}\n    auth-provider: {name: oidc}\n'),
    'user "u" in kubeconfig FILE has both an exec plugin and an auth-provider',
  );
  assert.equal(
    user('    token: a\n    as-groups: [g]\n    as-user-extra: {scopes: [s]}\n'),
    'user "u" in kubeconfig FILE sets as-groups, as-user-extra without as: they describe a user to impersonate, and none is named',
  );
  const ca = file(
    `${CLUSTER}    certificate-authority: /etc/hostname\n    certificate-authority-data: eA==\n${context('')}current-context: c\n`,
  );
  assert.equal(
    usageMessage(() => resolveConfig({ kubeconfig: ca }, {})),
    `cluster "k" in kubeconfig ${ca} has both certificate-authority and certificate-authority-data`,
  );
});

test('empty --context and -n are unset, as for kubectl', () => {
  const path = file(`${CLUSTER}${context('    namespace: own\n')}current-context: c\n`);
  const resolved = resolveConfig({ kubeconfig: path, context: '', namespace: '' }, {});
  assert.deepEqual([resolved.contextName, resolved.namespace], ['c', 'own']);
});

test('impersonation extras are sent under keys escaped as client-go escapes them', () => {
  assert.equal(escapeHeaderKey('scopes'), 'scopes');
  assert.equal(escapeHeaderKey('example.com/Scopes'), 'example.com%2FScopes');
  assert.equal(escapeHeaderKey('100%'), '100%25');
  assert.equal(escapeHeaderKey('a b'), 'a%20b');
  assert.equal(escapeHeaderKey('é'), '%C3%A9');
});

test('an impersonation the user may not do is named as such, with the field that asks for it', () => {
  const denied = (message: string): string => {
    const err = explainFailure(
      new ApiError({ status: 403, reason: 'Forbidden', message }),
      { verb: 'get', resource: 'members', namespace: 'ns' },
      {
        server: 'https://k',
        contextName: 'c',
        userName: 'u',
        impersonating: 'bob',
      },
    );
    return `${err.message}\n${err.hint ?? ''}`;
  };
  assert.equal(
    denied('users "bob" is forbidden: User "nobody" cannot impersonate resource "users" in API group "" at the cluster scope'),
    'forbidden: user nobody may not impersonate the user "bob", which as in the kubeconfig asks for\n' +
      'ask for a ClusterRole granting "impersonate" on users, bound with a ClusterRoleBinding, or remove as from the kubeconfig\'s user',
  );
  assert.match(
    denied('groups "admins" is forbidden: User "nobody" cannot impersonate resource "groups" in API group "" at the cluster scope'),
    /^forbidden: user nobody may not impersonate the group "admins", which as-groups in the kubeconfig asks for\n/,
  );
  assert.match(
    denied(
      'userextras.authentication.k8s.io "s" is forbidden: User "nobody" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope',
    ),
    /^forbidden: user nobody may not impersonate the extra scopes "s", which as-user-extra in the kubeconfig asks for\n/,
  );
  // constrained impersonation (Kubernetes 1.35 on) names the verb, not whom: the kubeconfig says that
  assert.match(
    denied(
      'members.helloworld.apimeister.com "x" is forbidden: User "nobody" cannot impersonate-on:user-info:delete resource "members" in API group "helloworld.apimeister.com" in the namespace "ns"',
    ),
    /^forbidden: user nobody may not impersonate the user "bob", which as in the kubeconfig asks for\n/,
  );
});
