// The cases of the side-by-side matrix (kubectl-matrix.test.ts runs them): what each sets up, and what the API
// servers must see of member-watch. Where member-watch differs on purpose, the case says why, and
// docs/kubeconfig.md's table says the same.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../harness/control-plane.js';
import type { Invocation, PodInvocation } from '../harness/side-by-side.js';

export interface Server {
  name: 'A' | 'B';
  cp: ControlPlane;
  /** Kubernetes 1.minor */
  minor: number;
  url: string;
  port: number;
  caFile: string;
}

export type Doc = Record<string, unknown>;

/** One case's own folder, identities and helpers. Identities are unique to the case: its requests are its own. */
export interface Scene {
  readonly A: Server;
  readonly B: Server;
  readonly dir: string;
  /** HOME for both tools: empty unless the case writes ~/.kube/config there. */
  readonly home: string;
  /** The token of this case's user `label` (a, b, c: group matrix, cluster-admin; weak: no group; oidc: a JWT). */
  token(label: Label): string;
  /** How the audit log shows that user: `m7-a [matrix]`. */
  who(label: Label | 'cert' | 'pod'): string;
  write(name: string, text: string): string;
  kubeconfig(doc: Doc, name?: string): string;
  /** cluster k (A unless said), user u (token a), context c (namespace ns-c), current-context c; each part changed by `o`. */
  simple(o?: { server?: Server; cluster?: Doc; user?: Doc; context?: Doc }): Doc;
  /** A client certificate for `who('cert')`, signed by the CA both servers trust. */
  cert(): { cert: string; key: string };
  /** An exec plugin printing this token (or running this shell body), in the case's folder. */
  plugin(body: { token: string } | { shell: string }, apiVersion?: string): string;
  env(more?: Record<string, string>): Record<string, string>;
  pod(server: Server, namespaceFile: string): Promise<PodInvocation>;
  /** A CONNECT proxy to A; with `auth`, it wants user:password (given in the URL it returns). */
  connectProxy(auth?: { user: string; password: string }): Promise<string>;
  socksProxy(): Promise<string>;
  kubectlProxy(kubeconfig: string): Promise<string>;
}

export type Label = 'a' | 'b' | 'c' | 'weak' | 'oidc';
export const LABELS: Label[] = ['a', 'b', 'c', 'weak', 'oidc'];

export interface Case {
  section: string;
  name: string;
  setup(s: Scene): Invocation | Promise<Invocation>;
  /** What the servers see of member-watch: `A m7-a [matrix] ns=ns-c 404`; none at all: it must not reach a server. */
  sees(s: Scene): string[];
  /** member-watch's `error:` line, where it has one. */
  says?: RegExp;
  /** Where member-watch differs on purpose: why. kubectl must then be seen doing something else. */
  differs?: string;
  /**
   * The server refuses kubectl's discovery, so it never gets to the Member: only who asked, and where, is compared
   * (member-watch's first request is the Member's).
   */
  discoveryRefused?: true;
}

export const V1 = 'client.authentication.k8s.io/v1';
const INVALID_HOST = 'member-watch.invalid';
const SERVER_NAME = 'kubernetes.default.svc';
const base64 = (text: string): string => Buffer.from(text).toString('base64');
const NOT_FOUND = (server: 'A' | 'B', who: string, ns = 'ns-c'): string => `${server} ${who} ns=${ns} 404`;

export const CASES: Case[] = [
  // --- files ---
  {
    section: 'Files',
    name: '--kubeconfig names the file',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple())], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: 'KUBECONFIG with several files: the first to define a name wins',
    setup: (s) => {
      const first = s.kubeconfig(s.simple(), 'first');
      const second = s.kubeconfig(
        { ...s.simple({ server: s.B, user: { token: s.token('b') }, context: { namespace: 'other' } }), 'current-context': 'd' },
        'second',
      );
      return { args: [], env: s.env({ KUBECONFIG: `${first}:${second}` }) };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: 'KUBECONFIG: the first file that sets current-context wins',
    setup: (s) => {
      const contexts = s.kubeconfig(
        {
          ...s.simple(),
          clusters: [
            { name: 'ka', cluster: { server: s.A.url, 'certificate-authority': s.A.caFile } },
            { name: 'kb', cluster: { server: s.B.url, 'certificate-authority': s.B.caFile } },
          ],
          contexts: [
            { name: 'ca', context: { cluster: 'ka', user: 'u', namespace: 'one' } },
            { name: 'cb', context: { cluster: 'kb', user: 'u', namespace: 'two' } },
          ],
          'current-context': undefined,
        },
        'contexts',
      );
      const second = s.write('second', 'current-context: cb\n');
      const third = s.write('third', 'current-context: ca\n');
      return { args: [], env: s.env({ KUBECONFIG: `${contexts}:${second}:${third}` }) };
    },
    sees: (s) => [NOT_FOUND('B', s.who('a'), 'two')],
  },
  {
    section: 'Files',
    name: 'KUBECONFIG: a missing file is skipped',
    setup: (s) => ({ args: [], env: s.env({ KUBECONFIG: `${join(s.dir, 'missing')}:${s.kubeconfig(s.simple())}` }) }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: 'KUBECONFIG: an empty file among them',
    setup: (s) => ({ args: [], env: s.env({ KUBECONFIG: `${s.write('empty', '')}:${s.kubeconfig(s.simple())}` }) }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: '~/.kube/config when there is neither --kubeconfig nor KUBECONFIG',
    setup: (s) => {
      mkdirSync(join(s.home, '.kube'));
      writeFileSync(join(s.home, '.kube', 'config'), JSON.stringify(s.simple()));
      return { args: [], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: '--kubeconfig before KUBECONFIG, KUBECONFIG before ~/.kube/config',
    setup: (s) => {
      mkdirSync(join(s.home, '.kube'));
      writeFileSync(join(s.home, '.kube', 'config'), JSON.stringify(s.simple({ server: s.B })));
      const viaEnv = s.kubeconfig(s.simple({ server: s.B, context: { namespace: 'env' } }), 'env');
      return { args: ['--kubeconfig', s.kubeconfig(s.simple())], env: s.env({ KUBECONFIG: viaEnv }) };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: 'KUBECONFIG before ~/.kube/config',
    setup: (s) => {
      mkdirSync(join(s.home, '.kube'));
      writeFileSync(join(s.home, '.kube', 'config'), JSON.stringify(s.simple({ server: s.B })));
      return { args: [], env: s.env({ KUBECONFIG: s.kubeconfig(s.simple()) }) };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: 'unknown fields are ignored',
    setup: (s) => {
      const doc = s.simple({ cluster: { 'made-up': 1 }, user: { 'made-up': [1] }, context: { 'made-up': { a: 1 } } });
      return { args: ['--kubeconfig', s.kubeconfig({ ...doc, preferences: { colors: true }, 'made-up': 'x' })], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: 'a field of the wrong type (clusters: 5)',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig({ ...s.simple(), clusters: 5 })], env: s.env() }),
    sees: () => [],
    says: /is malformed: clusters must be a list, not the number 5$/,
  },
  {
    section: 'Files',
    name: 'relative certificate-authority and tokenFile: relative to the file',
    setup: (s) => {
      mkdirSync(join(s.dir, 'sub'));
      copyFileSync(s.A.caFile, join(s.dir, 'sub', 'ca.crt'));
      s.write('sub/token', s.token('b'));
      const doc = s.simple({ cluster: { 'certificate-authority': 'ca.crt' }, user: { token: undefined, tokenFile: 'token' } });
      return { args: ['--kubeconfig', s.kubeconfig(doc, 'sub/kubeconfig')], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('b'))],
  },
  {
    section: 'Files',
    name: 'relative client-certificate and client-key',
    setup: (s) => {
      const { cert, key } = s.cert();
      mkdirSync(join(s.dir, 'sub'));
      copyFileSync(cert, join(s.dir, 'sub', 'client.crt'));
      copyFileSync(key, join(s.dir, 'sub', 'client.key'));
      const doc = s.simple({ user: { token: undefined, 'client-certificate': 'client.crt', 'client-key': 'client.key' } });
      return { args: ['--kubeconfig', s.kubeconfig(doc, 'sub/kubeconfig')], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('cert'))],
  },
  {
    section: 'Files',
    name: 'a relative exec command (./plugin)',
    setup: (s) => {
      s.plugin({ token: s.token('b') });
      const doc = s.simple({ user: { token: undefined, exec: { apiVersion: V1, command: './plugin.sh', interactiveMode: 'Never' } } });
      return { args: ['--kubeconfig', s.kubeconfig(doc)], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('b'))],
  },
  {
    section: 'Files',
    name: 'two YAML documents: the first is read',
    setup: (s) => {
      const second = JSON.stringify(s.simple({ server: s.B, user: { token: s.token('b') } }));
      const file = s.write('kubeconfig', `${JSON.stringify(s.simple())}\n---\n${second}\n---\n: not yaml [\n`);
      return { args: ['--kubeconfig', file], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: 'apiVersion and kind left out',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig({ ...s.simple(), apiVersion: undefined, kind: undefined })], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Files',
    name: 'apiVersion: v7',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig({ ...s.simple(), apiVersion: 'v7' })], env: s.env() }),
    sees: () => [],
    says: /is not a kubeconfig: it says apiVersion v7, kind Config$/,
  },
  ...(['clusters', 'users', 'contexts'] as const).map((list): Case => ({
    section: 'Files',
    name: `a ${list.slice(0, -1)} name defined twice in one file`,
    setup: (s) => {
      const doc = s.simple();
      const entries = doc[list] as Doc[];
      return { args: ['--kubeconfig', s.kubeconfig({ ...doc, [list]: [...entries, ...entries] })], env: s.env() };
    },
    sees: () => [],
    says: new RegExp(`is malformed: ${list}\\[0\\] and ${list}\\[1\\] are both named`),
  })),
  {
    section: 'Files',
    name: 'current-context names a context that is not defined',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig({ ...s.simple(), 'current-context': 'gone' })], env: s.env() }),
    sees: () => [],
    says: /current-context "gone" is not defined in kubeconfig/,
  },
  {
    section: 'Files',
    name: 'no current-context (outside a pod)',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig({ ...s.simple(), 'current-context': undefined })], env: s.env() }),
    sees: () => [],
    says: /no current context in kubeconfig/,
  },
  {
    section: 'Files',
    name: '--kubeconfig naming an empty file (outside a pod)',
    setup: (s) => ({ args: ['--kubeconfig', s.write('empty', '')], env: s.env() }),
    sees: () => [],
    says: /^error: kubeconfig \S+ is empty$/,
  },
  // --- values as YAML 1.1 reads them ---
  ...(
    [
      [
        'namespace: 0123',
        'context',
        'namespace',
        '0123',
        /contexts\[0\]\.context\.namespace must be a string, not the number 0123, which YAML reads as 83/,
      ],
      ['namespace: 1e3', 'context', 'namespace', '1e3', /contexts\[0\]\.context\.namespace must be a string, not the number 1e3/],
      ['namespace: yes', 'context', 'namespace', 'yes', /contexts\[0\]\.context\.namespace must be a string, not the boolean yes/],
      ['token: 0x1F', 'user', 'token', '0x1F', /users\[0\]\.user\.token must be a string, not a number \(quote it/],
      ['a token of 20 digits', 'user', 'token', '12345678901234567890', /users\[0\]\.user\.token must be a string, not a number/],
      ['password: 012345', 'user', 'password', '012345', /users\[0\]\.user\.password must be a string, not a number/],
    ] as const
  ).map(([name, part, field, plain, says]): Case => ({
    section: 'Values',
    name: `${name}, unquoted`,
    setup: (s) => {
      const doc = s.simple(
        part === 'user'
          ? { user: { [field]: 'PLAIN', ...(field === 'password' ? { token: undefined, username: 'x' } : {}) } }
          : { context: { [field]: 'PLAIN' } },
      );
      return { args: ['--kubeconfig', s.write('kubeconfig', yamlWithPlain(doc, plain))], env: s.env() };
    },
    sees: () => [],
    says,
  })),
  {
    section: 'Values',
    name: 'namespace: "0123", quoted',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ context: { namespace: '0123' } }))], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'), '0123')],
  },
  {
    section: 'Values',
    name: 'a namespace that looks like a date (2024-01-01)',
    setup: (s) => ({
      args: ['--kubeconfig', s.write('kubeconfig', yamlWithPlain(s.simple({ context: { namespace: 'PLAIN' } }), '2024-01-01'))],
      env: s.env(),
    }),
    sees: (s) => [NOT_FOUND('A', s.who('a'), '2024-01-01')],
  },
  {
    section: 'Values',
    name: 'insecure-skip-tls-verify: yes (no CA)',
    setup: (s) => {
      const doc = s.simple({ cluster: { 'certificate-authority': undefined, 'insecure-skip-tls-verify': 'PLAIN' } });
      return { args: ['--kubeconfig', s.write('kubeconfig', yamlWithPlain(doc, 'yes'))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  // --- flags ---
  {
    section: 'Flags',
    name: '-n names the namespace',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple()), '-n', 'flag'], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'), 'flag')],
  },
  {
    section: 'Flags',
    name: '-n "": the context\'s namespace',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple()), '-n', ''], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Flags',
    name: 'a context without a namespace: default',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ context: { namespace: undefined } }))], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'), 'default')],
  },
  {
    section: 'Flags',
    name: '--context picks another context',
    setup: (s) => {
      const doc = s.simple();
      const contexts = [...(doc['contexts'] as Doc[]), { name: 'd', context: { cluster: 'kb', user: 'u', namespace: 'two' } }];
      const clusters = [...(doc['clusters'] as Doc[]), { name: 'kb', cluster: { server: s.B.url, 'certificate-authority': s.B.caFile } }];
      return { args: ['--kubeconfig', s.kubeconfig({ ...doc, contexts, clusters }), '--context', 'd'], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('B', s.who('a'), 'two')],
  },
  {
    section: 'Flags',
    name: '--context "": the current context',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple()), '--context', ''], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  // --- TLS ---
  {
    section: 'TLS',
    name: 'certificate-authority-data',
    setup: (s) => {
      const doc = s.simple({
        cluster: { 'certificate-authority': undefined, 'certificate-authority-data': base64(readFileSync(s.A.caFile, 'utf8')) },
      });
      return { args: ['--kubeconfig', s.kubeconfig(doc)], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'TLS',
    name: 'a bundle of several CAs',
    setup: (s) => {
      const bundle = readFileSync(s.B.caFile, 'utf8') + readFileSync(s.A.caFile, 'utf8');
      const doc = s.simple({ cluster: { 'certificate-authority': undefined, 'certificate-authority-data': base64(bundle) } });
      return { args: ['--kubeconfig', s.kubeconfig(doc)], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'TLS',
    name: 'certificate-authority and certificate-authority-data both',
    setup: (s) => {
      const doc = s.simple({ cluster: { 'certificate-authority-data': base64(readFileSync(s.A.caFile, 'utf8')) } });
      return { args: ['--kubeconfig', s.kubeconfig(doc)], env: s.env() };
    },
    sees: () => [],
    says: /has both certificate-authority and certificate-authority-data$/,
  },
  {
    section: 'TLS',
    name: 'a CA and insecure-skip-tls-verify',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster: { 'insecure-skip-tls-verify': true } }))], env: s.env() }),
    sees: () => [],
    says: /has both a certificate authority and insecure-skip-tls-verify$/,
  },
  {
    section: 'TLS',
    name: "a CA that did not sign the server's certificate",
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster: { 'certificate-authority': s.B.caFile } }))], env: s.env() }),
    sees: () => [],
    says: /^error: TLS verification failed for https:\/\/127\.0\.0\.1:\d+ \(context c\)/,
  },
  {
    section: 'TLS',
    name: 'tls-server-name the certificate carries',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster: { 'tls-server-name': SERVER_NAME } }))], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'TLS',
    name: 'tls-server-name the certificate does not carry',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster: { 'tls-server-name': 'wrong.example' } }))], env: s.env() }),
    sees: () => [],
    says: /the server's certificate is not valid for the name wrong\.example/,
  },
  {
    section: 'TLS',
    name: 'client-certificate and client-key files',
    setup: (s) => {
      const { cert, key } = s.cert();
      return {
        args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { token: undefined, 'client-certificate': cert, 'client-key': key } }))],
        env: s.env(),
      };
    },
    sees: (s) => [NOT_FOUND('A', s.who('cert'))],
  },
  {
    section: 'TLS',
    name: 'client-certificate-data and client-key-data',
    setup: (s) => {
      const { cert, key } = s.cert();
      const user = {
        token: undefined,
        'client-certificate-data': base64(readFileSync(cert, 'utf8')),
        'client-key-data': base64(readFileSync(key, 'utf8')),
      };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user }))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('cert'))],
  },
  {
    section: 'TLS',
    name: 'a client certificate and a token: the certificate (the server tries it first)',
    setup: (s) => {
      const { cert, key } = s.cert();
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { 'client-certificate': cert, 'client-key': key } }))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('cert'))],
  },
  ...(
    [
      ['client-certificate', 'client-certificate-data', 'cert'],
      ['client-key', 'client-key-data', 'key'],
    ] as const
  ).map(([file, data, part]): Case => ({
    section: 'TLS',
    name: `${file} and ${data} both`,
    setup: (s) => {
      const pair = s.cert();
      const user = {
        token: undefined,
        'client-certificate': pair.cert,
        'client-key': pair.key,
        [data]: base64(readFileSync(pair[part], 'utf8')),
      };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user }))], env: s.env() };
    },
    sees: () => [],
    says: new RegExp(`has both ${file} and ${data}$`),
  })),
  {
    section: 'TLS',
    name: 'a client certificate without its key',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { 'client-certificate': s.cert().cert } }))], env: s.env() }),
    sees: () => [],
    says: /has a client certificate but no client key$/,
  },
  {
    section: 'TLS',
    name: 'a client key without its certificate (and a token)',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { 'client-key': s.cert().key } }))], env: s.env() }),
    sees: () => [],
    says: /has a client key but no client certificate$/,
    differs:
      'kubectl ignores a client key without its certificate and goes on with the other credentials; member-watch refuses, since the certificate was surely meant to be there',
  },
  // --- credentials ---
  {
    section: 'Credentials',
    name: 'tokenFile',
    setup: (s) => ({
      args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { token: undefined, tokenFile: s.write('token', s.token('b')) } }))],
      env: s.env(),
    }),
    sees: (s) => [NOT_FOUND('A', s.who('b'))],
  },
  {
    section: 'Credentials',
    name: "token and tokenFile: the file's",
    setup: (s) => ({
      args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { tokenFile: s.write('token', `${s.token('b')}\n`) } }))],
      env: s.env(),
    }),
    sees: (s) => [NOT_FOUND('A', s.who('b'))],
  },
  {
    section: 'Credentials',
    name: 'token and a tokenFile that does not exist: the token',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { tokenFile: join(s.dir, 'missing') } }))], env: s.env() }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Credentials',
    name: 'username and password (the server has no basic authentication)',
    setup: (s) => ({
      args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { token: undefined, username: 'u', password: 'p' } }))],
      env: s.env(),
    }),
    // no basic authentication: the header is ignored, the request is anonymous
    sees: () => ['A system:anonymous [system:unauthenticated] ns=ns-c 403'],
    says: /^error: forbidden: user system:anonymous may not delete/,
  },
  ...(['token', 'tokenFile'] as const).map((field): Case => ({
    section: 'Credentials',
    name: `${field} with username and password`,
    setup: (s) => {
      const user = {
        token: undefined,
        [field]: field === 'token' ? s.token('a') : s.write('token', s.token('a')),
        username: 'u',
        password: 'p',
      };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user }))], env: s.env() };
    },
    sees: () => [],
    says: new RegExp(`has both a ${field} and a username and password$`),
  })),
  {
    section: 'Credentials',
    name: 'an exec plugin (v1)',
    setup: (s) => ({
      args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { token: undefined, exec: exec(s.plugin({ token: s.token('b') })) } }))],
      env: s.env(),
    }),
    sees: (s) => [NOT_FOUND('A', s.who('b'))],
  },
  {
    section: 'Credentials',
    name: 'an exec plugin (v1beta1, interactiveMode left out)',
    setup: (s) => {
      const command = s.plugin({ token: s.token('b') }, 'client.authentication.k8s.io/v1beta1');
      const user = { token: undefined, exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command } };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user }))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('b'))],
  },
  {
    section: 'Credentials',
    name: 'an exec plugin with env and args',
    setup: (s) => {
      const command = s.plugin({
        shell: `printf '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"%s%s"}}' "$MATRIX_TOKEN" "$1"`,
      });
      const token = s.token('c');
      const user = {
        token: undefined,
        exec: { ...exec(command), env: [{ name: 'MATRIX_TOKEN', value: token.slice(0, 8) }], args: [token.slice(8)] },
      };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user }))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('c'))],
  },
  {
    section: 'Credentials',
    name: "an exec plugin with provideClusterInfo: the cluster's server and exec extension in KUBERNETES_EXEC_INFO",
    setup: (s) => {
      // the token is chosen by what the plugin is told: the server, and the extension's settings
      const token = (label: Label): string =>
        `echo '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"${s.token(label)}"}}'`;
      const command = s.plugin({
        shell: `case "$KUBERNETES_EXEC_INFO" in\n*'"server":"${s.A.url}"'*'"pick":"c"'*) ${token('c')} ;;\n*) ${token('b')} ;;\nesac`,
      });
      const cluster = { extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { pick: 'c' } }] };
      const user = { token: undefined, exec: { ...exec(command), provideClusterInfo: true } };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster, user }))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('c'))],
  },
  {
    section: 'Credentials',
    name: 'an exec plugin and a token: the token',
    setup: (s) => ({
      args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { exec: exec(s.plugin({ token: s.token('b') })) } }))],
      env: s.env(),
    }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Credentials',
    name: 'an exec plugin and a client certificate: the certificate',
    setup: (s) => {
      const { cert, key } = s.cert();
      const user = { token: undefined, 'client-certificate': cert, 'client-key': key, exec: exec(s.plugin({ token: s.token('b') })) };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user }))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('cert'))],
  },
  {
    section: 'Credentials',
    name: 'an exec plugin and an auth-provider',
    setup: (s) => {
      const user = { token: undefined, exec: exec(s.plugin({ token: s.token('b') })), 'auth-provider': { name: 'oidc', config: {} } };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user }))], env: s.env() };
    },
    sees: () => [],
    says: /has both an exec plugin and an auth-provider$/,
  },
  {
    section: 'Credentials',
    name: 'an exec plugin that is not installed',
    setup: (s) => ({
      args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { token: undefined, exec: exec('member-watch-no-such-plugin') } }))],
      env: s.env(),
    }),
    sees: () => [],
    says: /exec plugin "member-watch-no-such-plugin" of user "u" in kubeconfig \S+ is not installed/,
  },
  {
    section: 'Credentials',
    name: 'an exec plugin that fails',
    setup: (s) => {
      const command = s.plugin({ shell: "echo 'log in again' >&2; exit 1" });
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { token: undefined, exec: exec(command) } }))], env: s.env() };
    },
    sees: () => [],
    says: /failed with exit code 1: log in again$/,
  },
  {
    section: 'Credentials',
    name: 'an oidc auth-provider with an unexpired id-token',
    setup: (s) => {
      const config = { 'idp-issuer-url': 'https://issuer.invalid', 'client-id': 'member-watch', 'id-token': s.token('oidc') };
      return {
        args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { token: undefined, 'auth-provider': { name: 'oidc', config } } }))],
        env: s.env(),
      };
    },
    sees: (s) => [NOT_FOUND('A', s.who('oidc'))],
  },
  // --- impersonation ---
  {
    section: 'Impersonation',
    name: 'as',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { as: 'bob' } }))], env: s.env() }),
    sees: (s) => [`A ${s.who('a')} as bob ns=ns-c 404`],
  },
  {
    section: 'Impersonation',
    name: 'as with as-groups, as-uid and as-user-extra',
    setup: (s) => {
      const user = {
        as: 'bob',
        'as-groups': ['g1', 'g2'],
        'as-uid': '1234',
        'as-user-extra': { scopes: ['s1', 's2'], 'example.com/Team': ['blue'] },
      };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ user }))], env: s.env() };
    },
    // Impersonate-Uid is understood from Kubernetes 1.22 on; older servers ignore it
    sees: (s) => [`A ${s.who('a')} as bob [g1,g2] {example.com/team=blue,scopes=s1+s2}${s.A.minor >= 22 ? ' uid=1234' : ''} ns=ns-c 404`],
  },
  {
    section: 'Impersonation',
    name: 'as a service account',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { as: 'system:serviceaccount:team:robot' } }))], env: s.env() }),
    sees: (s) => [`A ${s.who('a')} as system:serviceaccount:team:robot [system:serviceaccounts,system:serviceaccounts:team] ns=ns-c 404`],
  },
  ...(
    [
      ['as-groups', ['g1']],
      ['as-user-extra', { scopes: ['s1'] }],
      ['as-uid', '1234'],
    ] as const
  ).map(([field, value]): Case => ({
    section: 'Impersonation',
    name: `${field} without as`,
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { [field]: value } }))], env: s.env() }),
    sees: () => [],
    says: new RegExp(`sets ${field} without as: they describe a user to impersonate, and none is named$`),
  })),
  {
    section: 'Impersonation',
    name: 'as, by a user who may not impersonate',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple({ user: { token: s.token('weak'), as: 'bob' } }))], env: s.env() }),
    sees: (s) => [`A ${s.who('weak')} ns=ns-c 403`],
    says: /^error: forbidden: user m\d+-weak may not impersonate the user "bob", which as in the kubeconfig asks for$/,
    discoveryRefused: true,
  },
  // --- proxies ---
  {
    section: 'Proxies',
    name: 'proxy-url (a CONNECT proxy; the server name resolves only there)',
    setup: async (s) => {
      const cluster = {
        server: `https://${INVALID_HOST}:${s.A.port}`,
        'tls-server-name': SERVER_NAME,
        'proxy-url': await s.connectProxy(),
      };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster }))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  ...(['HTTPS_PROXY', 'https_proxy'] as const).map((variable): Case => ({
    section: 'Proxies',
    name: variable,
    setup: async (s) => {
      const cluster = { server: `https://${INVALID_HOST}:${s.A.port}`, 'tls-server-name': SERVER_NAME };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster }))], env: s.env({ [variable]: await s.connectProxy() }) };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  })),
  {
    section: 'Proxies',
    name: 'a proxy with user:password@ in its URL',
    setup: async (s) => {
      const proxy = await s.connectProxy({ user: 'matrix', password: 'p@ss:word' });
      const cluster = { server: `https://${INVALID_HOST}:${s.A.port}`, 'tls-server-name': SERVER_NAME };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster }))], env: s.env({ HTTPS_PROXY: proxy }) };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Proxies',
    name: 'proxy-url socks5:// (the server name resolves only there)',
    setup: async (s) => {
      const cluster = { server: `https://${INVALID_HOST}:${s.A.port}`, 'tls-server-name': SERVER_NAME, 'proxy-url': await s.socksProxy() };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster }))], env: s.env() };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Proxies',
    name: 'proxy-url before HTTPS_PROXY',
    setup: async (s) => {
      const cluster = {
        server: `https://${INVALID_HOST}:${s.A.port}`,
        'tls-server-name': SERVER_NAME,
        'proxy-url': await s.connectProxy(),
      };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster }))], env: s.env({ HTTPS_PROXY: 'http://127.0.0.1:1' }) };
    },
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  ...(['member-watch.invalid', '.invalid', 'invalid', '*', `member-watch.invalid:${'PORT'}`] as const).map((entry): Case => ({
    section: 'Proxies',
    name: `NO_PROXY=${entry}: not proxied`,
    setup: async (s) => {
      const cluster = { server: `https://${INVALID_HOST}:${s.A.port}`, 'tls-server-name': SERVER_NAME };
      const noProxy = entry.replace('PORT', String(s.A.port));
      return {
        args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster }))],
        env: s.env({ HTTPS_PROXY: await s.connectProxy(), NO_PROXY: noProxy }),
      };
    },
    sees: () => [],
    says: /host member-watch\.invalid not found$/,
  })),
  {
    section: 'Proxies',
    name: 'HTTP_PROXY is not for an https server',
    setup: async (s) => {
      const cluster = { server: `https://${INVALID_HOST}:${s.A.port}`, 'tls-server-name': SERVER_NAME };
      return { args: ['--kubeconfig', s.kubeconfig(s.simple({ cluster }))], env: s.env({ HTTP_PROXY: await s.connectProxy() }) };
    },
    sees: () => [],
    says: /host member-watch\.invalid not found$/,
  },
  {
    section: 'Proxies',
    name: 'a loopback server is never proxied',
    setup: (s) => ({ args: ['--kubeconfig', s.kubeconfig(s.simple())], env: s.env({ HTTPS_PROXY: 'http://127.0.0.1:1' }) }),
    sees: (s) => [NOT_FOUND('A', s.who('a'))],
  },
  {
    section: 'Proxies',
    name: 'a plain http server (kubectl proxy): no credentials sent, impersonation passed on',
    setup: async (s) => {
      const proxy = await s.kubectlProxy(s.kubeconfig(s.simple({ user: { token: s.token('c') } }), 'for-proxy'));
      const doc = s.simple({ cluster: { server: proxy, 'certificate-authority': undefined }, user: { as: 'bob', 'as-groups': ['g1'] } });
      return { args: ['--kubeconfig', s.kubeconfig(doc)], env: s.env() };
    },
    sees: (s) => [`A ${s.who('c')} as bob [g1] ns=ns-c 404`],
  },
  // --- inside a pod ---
  {
    section: 'In a pod',
    name: 'no kubeconfig: the service account, and its namespace',
    setup: async (s) => ({ args: [], env: {}, pod: await s.pod(s.A, 'pod-ns') }),
    sees: (s) => [NOT_FOUND('A', s.who('pod'), 'pod-ns')],
  },
  {
    section: 'In a pod',
    name: "no kubeconfig: POD_NAMESPACE before the service account's namespace",
    setup: async (s) => ({ args: [], env: { POD_NAMESPACE: 'from-env' }, pod: await s.pod(s.A, 'pod-ns') }),
    sees: (s) => [NOT_FOUND('A', s.who('pod'), 'from-env')],
  },
  {
    section: 'In a pod',
    name: "a kubeconfig whose context has no namespace: the pod's",
    setup: async (s) => {
      const file = s.kubeconfig(s.simple({ server: s.B, user: { token: s.token('b') }, context: { namespace: undefined } }));
      return { args: [], env: { KUBECONFIG: file }, pod: await s.pod(s.A, 'pod-ns') };
    },
    sees: (s) => [NOT_FOUND('B', s.who('b'), 'pod-ns')],
  },
  {
    section: 'In a pod',
    name: 'a kubeconfig whose context has no namespace, and POD_NAMESPACE',
    setup: async (s) => {
      const file = s.kubeconfig(s.simple({ server: s.B, user: { token: s.token('b') }, context: { namespace: undefined } }));
      return { args: ['--kubeconfig', file], env: { POD_NAMESPACE: 'from-env' }, pod: await s.pod(s.A, 'pod-ns') };
    },
    sees: (s) => [NOT_FOUND('B', s.who('b'), 'from-env')],
  },
  {
    section: 'In a pod',
    name: 'a kubeconfig whose context says namespace: default',
    setup: async (s) => {
      const file = s.kubeconfig(s.simple({ server: s.B, context: { namespace: 'default' } }));
      return { args: [], env: { KUBECONFIG: file, POD_NAMESPACE: 'from-env' }, pod: await s.pod(s.A, 'pod-ns') };
    },
    sees: (s) => [NOT_FOUND('B', s.who('a'), 'default')],
  },
  {
    section: 'In a pod',
    name: 'KUBECONFIG naming a missing file: the service account',
    setup: async (s) => ({ args: [], env: { KUBECONFIG: join(s.dir, 'missing') }, pod: await s.pod(s.B, 'pod-ns') }),
    sees: (s) => [NOT_FOUND('B', s.who('pod'), 'pod-ns')],
  },
  {
    section: 'In a pod',
    name: 'KUBECONFIG naming an empty file: the service account',
    setup: async (s) => ({ args: [], env: { KUBECONFIG: s.write('empty', '') }, pod: await s.pod(s.A, 'pod-ns') }),
    sees: (s) => [NOT_FOUND('A', s.who('pod'), 'pod-ns')],
  },
  {
    section: 'In a pod',
    name: '--kubeconfig naming an empty file: the service account',
    setup: async (s) => ({ args: ['--kubeconfig', s.write('empty', '\n')], env: {}, pod: await s.pod(s.A, 'pod-ns') }),
    sees: (s) => [NOT_FOUND('A', s.who('pod'), 'pod-ns')],
  },
  {
    section: 'In a pod',
    name: 'a kubeconfig without current-context: the service account',
    setup: async (s) => {
      const file = s.kubeconfig({ ...s.simple({ server: s.B }), 'current-context': undefined });
      return { args: [], env: { KUBECONFIG: file }, pod: await s.pod(s.A, 'pod-ns') };
    },
    sees: (s) => [NOT_FOUND('A', s.who('pod'), 'pod-ns')],
  },
  {
    section: 'In a pod',
    name: '-n in a pod',
    setup: async (s) => ({ args: ['-n', 'flag'], env: { POD_NAMESPACE: 'from-env' }, pod: await s.pod(s.A, 'pod-ns') }),
    sees: (s) => [NOT_FOUND('A', s.who('pod'), 'flag')],
  },
];

function exec(command: string): Doc {
  return { apiVersion: V1, command, interactiveMode: 'Never' };
}

/** The document as YAML (JSON is YAML), with the quoted placeholder "PLAIN" written as an unquoted scalar. */
function yamlWithPlain(doc: Doc, plain: string): string {
  return JSON.stringify(doc, null, 2).replace('"PLAIN"', plain);
}
