import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CliError, ExitCode } from '../../src/errors.js';
import { type ResolvedConfig, serviceAccountName } from '../../src/kube/config.js';
import { Credentials, TOKEN_FILE_PERIOD_MS } from '../../src/kube/credentials.js';
import { explainFailure, isTransient } from '../../src/kube/errors.js';
import { ApiError, NetworkError, toNetworkError, UnexpectedAnswer } from '../../src/kube/failures.js';
import { kubernetesVerb } from '../../src/kube/http.js';
import { chooseProxy } from '../../src/kube/proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'member-watch-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFor(server: string, user: Partial<NonNullable<ResolvedConfig['user']>> = {}, proxyUrl?: string): ResolvedConfig {
  return {
    contextName: 'c',
    cluster: { name: 'c', server, skipTLSVerify: false, proxyUrl },
    user: { name: 'u', impersonateGroups: [], impersonateExtra: {}, ...user },
    namespace: 'default',
    defaultNamespace: 'default',
    source: 'kubeconfig k',
  };
}

test('proxies are chosen as Go does: proxy-url first, HTTPS_PROXY for https, NO_PROXY, never loopback', () => {
  const proxy = 'http://proxy.example:3128';
  const chosen = (server: string, env: NodeJS.ProcessEnv, proxyUrl?: string): string | undefined =>
    chooseProxy(configFor(server, {}, proxyUrl).cluster, 'kubeconfig k', env)?.url.href;
  assert.equal(chosen('https://api.example:6443', { HTTPS_PROXY: proxy }), 'http://proxy.example:3128/');
  assert.equal(chosen('https://api.example:6443', { https_proxy: 'proxy.example:3128' }), 'http://proxy.example:3128/', 'no scheme: http');
  assert.equal(chosen('https://api.example:6443', { HTTP_PROXY: proxy }), undefined, 'HTTP_PROXY is for http servers');
  assert.equal(chosen('https://api.example:6443', { HTTPS_PROXY: proxy }, 'socks5://other:1080'), 'socks5://other:1080');
  for (const host of ['localhost', '127.0.0.1', '127.3.2.1', '[::1]']) {
    assert.equal(chosen(`https://${host}:6443`, { HTTPS_PROXY: proxy }), undefined, host);
  }
  const noProxy: Array<[string, string, boolean]> = [
    ['api.example', 'api.example', false],
    ['.example', 'api.example', false],
    ['example', 'api.example', false],
    ['*.example', 'api.example', false],
    ['xample', 'api.example', true],
    ['api.example:6443', 'api.example', false],
    ['api.example:443', 'api.example', true],
    ['10.1.0.0/16', '10.1.2.3', false],
    ['10.2.0.0/16', '10.1.2.3', true],
    ['10.1.2.3', '10.1.2.3', false],
    ['*', 'api.example', false],
    ['other.example, api.example', 'api.example', false],
  ];
  for (const [entry, host, proxied] of noProxy) {
    const result = chosen(`https://${host}:6443`, { HTTPS_PROXY: proxy, NO_PROXY: entry });
    assert.equal(result !== undefined, proxied, `NO_PROXY=${entry} for ${host}`);
  }
  assert.equal(chosen('https://api.example:6443', { HTTPS_PROXY: proxy, no_proxy: 'api.example' }), undefined, 'no_proxy');
  assert.throws(() => chosen('https://api.example:6443', {}, 'ftp://x'), CliError);
});

const jwt = (claims: object): string => ['e30', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'sig'].join('.');

test('the in-cluster identity is the service account named in the token', () => {
  assert.equal(serviceAccountName(jwt({ sub: 'system:serviceaccount:ops:watcher' })), 'system:serviceaccount:ops:watcher');
  const bound = { 'kubernetes.io': { namespace: 'ops', serviceaccount: { name: 'watcher', uid: 'x' } } };
  assert.equal(serviceAccountName(jwt(bound)), 'system:serviceaccount:ops:watcher');
  const legacy = { 'kubernetes.io/serviceaccount/namespace': 'ops', 'kubernetes.io/serviceaccount/service-account.name': 'watcher' };
  assert.equal(serviceAccountName(`${jwt(legacy)}\n`), 'system:serviceaccount:ops:watcher');
  assert.equal(serviceAccountName('not a jwt'), undefined);
  assert.equal(serviceAccountName(jwt({ sub: 'alice' })), undefined);
});

test('a token file is read at the start, again after a minute, and a failed read keeps the last token', async () => {
  const file = join(dir, 'token');
  writeFileSync(file, 'first\n');
  let now = 0;
  const credentials = new Credentials(configFor('https://a:1', { tokenFile: file }), undefined, () => now);
  const header = async (): Promise<unknown> => (await credentials.get()).headers['authorization'];
  assert.equal(await header(), 'Bearer first');
  writeFileSync(file, 'second');
  now = TOKEN_FILE_PERIOD_MS - 1;
  assert.equal(await header(), 'Bearer first', 'not read again within a minute');
  now = TOKEN_FILE_PERIOD_MS;
  assert.equal(await header(), 'Bearer second');
  rmSync(file);
  now = 3 * TOKEN_FILE_PERIOD_MS;
  assert.equal(await header(), 'Bearer second', 'a file gone for a moment');
  writeFileSync(file, 'third');
  assert.equal(await credentials.refresh(await credentials.get()), true, 'a 401 reads it again at once');
  assert.equal(await header(), 'Bearer third');
  assert.throws(
    () => new Credentials(configFor('https://a:1', { tokenFile: join(dir, 'none') }), undefined),
    /tokenFile of user "u" in kubeconfig k: file \S+ does not exist/,
  );
});

test('the verb of a request is the one RBAC checks', () => {
  const members = '/apis/helloworld.apimeister.com/v1/namespaces/x/members';
  assert.equal(kubernetesVerb({ method: 'GET', path: members }), 'list');
  assert.equal(kubernetesVerb({ method: 'GET', path: members, query: { watch: 1 } }), 'watch');
  assert.equal(kubernetesVerb({ method: 'GET', path: `${members}/patrick` }), 'get');
  assert.equal(kubernetesVerb({ method: 'GET', path: '/apis/helloworld.apimeister.com/v1/members' }), 'list');
  assert.equal(kubernetesVerb({ method: 'GET', path: '/api/v1/namespaces/x' }), 'get');
  assert.equal(kubernetesVerb({ method: 'PATCH', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/m' }), 'patch');
  assert.equal(kubernetesVerb({ method: 'DELETE', path: `${members}/patrick` }), 'delete');
  assert.equal(kubernetesVerb({ method: 'DELETE', path: members }), 'deletecollection');
});

test('only what can heal is transient', () => {
  const transient = [
    new NetworkError('ECONNREFUSED', ''),
    new NetworkError('CLOSED', ''),
    new NetworkError('TLS_HANDSHAKE_TIMEOUT', ''),
    new NetworkError('IDLE_TIMEOUT', ''),
    new NetworkError('PROXY_UNAVAILABLE', ''),
    new ApiError({ status: 429, reason: '', message: '' }),
    new ApiError({ status: 503, reason: '', message: '' }),
    Object.assign(new Error('aborted'), { code: 'ECONNRESET' }),
  ];
  const final = [
    new NetworkError('DEPTH_ZERO_SELF_SIGNED_CERT', ''),
    new NetworkError('ERR_TLS_CERT_ALTNAME_INVALID', ''),
    new NetworkError('ERR_SSL_WRONG_VERSION_NUMBER', ''),
    new NetworkError('PROXY_REFUSED', ''),
    new ApiError({ status: 401, reason: '', message: '' }),
    new ApiError({ status: 403, reason: '', message: '' }),
    new UnexpectedAnswer('REDIRECT', ''),
    new UnexpectedAnswer('NOT_JSON', ''),
    new CliError(2, 'tokenFile missing'),
    new SyntaxError('Unexpected token'),
    new TypeError('a bug'),
  ];
  for (const err of transient) assert.equal(isTransient(err), true, `${err.name} ${(err as { code?: string }).code ?? ''}`);
  for (const err of final) assert.equal(isTransient(err), false, `${err.name} ${(err as { code?: string }).code ?? ''}`);
});

test('Node\'s bare "aborted" and "socket hang up" become what happened', () => {
  const aborted = toNetworkError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), 'h:1');
  assert.deepEqual([aborted.code, aborted.message], ['CLOSED', 'the connection was closed by the server']);
  const hangUp = toNetworkError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'h:1');
  assert.deepEqual([hangUp.code, hangUp.message], ['CLOSED', 'the server closed the connection without answering']);
  const alert = toNetworkError(
    Object.assign(new Error('error:0A000412:SSL routines::sslv3 alert bad certificate'), { code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' }),
    'h:1',
  );
  assert.doesNotMatch(alert.message, /error:|routines/);
});

test('a 403 names the identity and verb the server names, and the role to ask for', () => {
  const at = { server: 'https://k:6443', contextName: 'c', userName: 'kubeconfig-user' };
  const rbac = new ApiError({
    status: 403,
    reason: 'Forbidden',
    message: 'members.g is forbidden: User "system:anonymous" cannot list resource "members" in API group "g" in the namespace "x"',
    verb: 'list',
  });
  const namespaced = explainFailure(rbac, { verb: 'watch', resource: 'members.g', namespace: 'x' }, at);
  assert.equal(namespaced.message, `forbidden: user system:anonymous may not list members.g in namespace x (${rbac.message})`);
  assert.match(namespaced.hint ?? '', /^ask for a Role in namespace x granting "list" on members\.g, bound with a RoleBinding/);
  const cluster = explainFailure(rbac, { verb: 'list', resource: 'members.g' }, at);
  assert.match(cluster.hint ?? '', /^ask for a ClusterRole granting "list" on members\.g, bound with a ClusterRoleBinding/);
  const terminating = new ApiError({
    status: 403,
    reason: 'Forbidden',
    message: 'unable to create new content in namespace x because it is being terminated',
    verb: 'patch',
  });
  assert.equal(
    explainFailure(terminating, { verb: 'patch', resource: 'members.g', namespace: 'x' }, at).message,
    'forbidden: patch members.g in namespace x: unable to create new content in namespace x because it is being terminated',
  );
});

test('a create refused while the CRD is being deleted is exit 4, as 1.20 (405) and current servers (403) say it', () => {
  const at = { server: 'https://k:6443', contextName: 'c', userName: undefined };
  const op = { verb: 'create', resource: 'members.g', namespace: 'x', crd: { name: 'members.g', kind: 'Member' } };
  const answers: Array<{ status: number; reason: string; message: string }> = [
    { status: 405, reason: 'MethodNotAllowed', message: 'create not allowed while custom resource definition is terminating' },
    {
      status: 403,
      reason: 'Forbidden',
      message: 'members.g "pat" is forbidden: create not allowed while custom resource definition is terminating',
    },
  ];
  for (const answer of answers) {
    const explained = explainFailure(new ApiError({ ...answer, verb: 'create' }), op, at);
    assert.equal(explained.exitCode, ExitCode.CrdMissing, answer.message);
    assert.equal(explained.message, 'the Member CRD (members.g) is being deleted: members written now would be deleted with it');
    assert.match(explained.hint ?? '', /^wait until it is gone .*member-watch install-crd/);
  }
  // The same words about a resource no CRD serves are a plain refusal.
  const forbidden = { status: 403, reason: 'Forbidden', message: 'create not allowed while custom resource definition is terminating' };
  const plain = explainFailure(new ApiError({ ...forbidden, verb: 'create' }), { ...op, crd: undefined }, at);
  assert.equal(plain.exitCode, ExitCode.Cluster);
});
