import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';

/**
 * What the fake API server answers to one request. Only answers a real kube-apiserver never gives belong
 * here (garbage, redirects, silence); behaviour a real one shows is tested against the real control plane.
 */
export type FakeAnswer =
  /** A JSON body (any value, Kubernetes or not). */
  | { json: unknown; status?: number; headers?: Record<string, string> }
  /** Raw text: an HTML page, truncated JSON. */
  | { text: string; status?: number; contentType?: string }
  | { redirect: string; status: 301 | 302 | 307 }
  /** A streamed 200 answer (a watch, a list): each chunk written as it comes, then what happens next. */
  | { stream: string[]; contentType?: string; then: 'end' | 'stall' | 'crash' }
  /** Reads the request and never answers. */
  | 'never'
  /** Closes the connection without answering. */
  | 'crash';

/** How the server treats a new connection. */
export type FakeMode =
  /** Terminates TLS with its own certificate and answers from its script. */
  | 'serve'
  /** Passes the bytes on to the real API server: TLS stays end to end, the fake is invisible. */
  | 'forward'
  /** Accepts TCP and never sends a byte: the TLS handshake never finishes. */
  | 'hang-tls';

export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

export interface FakeApiServer {
  readonly port: number;
  readonly url: string;
  /** The CA that signed the fake's certificate (valid for 127.0.0.1 and localhost). */
  readonly caFile: string;
  /** Requests answered in `serve` mode, oldest first. */
  readonly requests: SeenRequest[];
  /** From now on answer METHOD requests whose path starts with `path` with this; later rules win. */
  on(method: string, path: string, answer: FakeAnswer): void;
  /** Switches how new connections are treated; `cutAll` ends the open ones. */
  setMode(mode: FakeMode): void;
  cutAll(): void;
  close(): Promise<void>;
}

export interface FakeOptions {
  /** A folder for the certificates (the control plane's own, so it is removed with it). */
  dir: string;
  /** Where `forward` mode sends the bytes: the real API server's port. */
  upstreamPort?: number;
}

interface Rule {
  method: string;
  path: string;
  answer: FakeAnswer;
}

const NOT_FOUND: FakeAnswer = {
  status: 404,
  json: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', message: 'the fake has no answer for this', code: 404 },
};

let instances = 0;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const openssl = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });

/** A self-signed certificate and its key, as files `PREFIX.crt` and `PREFIX.key` (EC keys: fast to make). */
export function selfSigned(prefix: string, commonName: string): { cert: string; key: string } {
  const pair = { cert: `${prefix}.crt`, key: `${prefix}.key` };
  openssl(['req', '-x509', ...EC_KEY, '-subj', `/CN=${commonName}`, '-keyout', pair.key, '-out', pair.cert, '-days', '1']);
  return pair;
}

/**
 * A certificate for `subject` (`/O=group/CN=name`) signed by `ca`, and its key, as files `PREFIX.crt` and
 * `PREFIX.key`; `extensions` (an openssl extension file's text) adds subjectAltName and the like.
 */
export function signedBy(
  ca: { cert: string; key: string },
  prefix: string,
  subject: string,
  extensions?: string,
): { cert: string; key: string } {
  const pair = { cert: `${prefix}.crt`, key: `${prefix}.key` };
  openssl(['req', ...EC_KEY, '-subj', subject, '-keyout', pair.key, '-out', `${prefix}.csr`]);
  const ext = extensions === undefined ? [] : ['-extfile', `${prefix}.ext`];
  if (extensions !== undefined) writeFileSync(`${prefix}.ext`, extensions);
  openssl([
    'x509',
    '-req',
    '-in',
    `${prefix}.csr`,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    pair.cert,
    '-days',
    '1',
    ...ext,
  ]);
  return pair;
}

/** A CA and a server certificate it signed. */
function makeCertificates(dir: string): { caFile: string; key: Buffer; cert: Buffer } {
  const n = ++instances;
  const file = (name: string): string => join(dir, `fake-apiserver-${n}-${name}`);
  const ca = selfSigned(file('ca'), 'fake-apiserver-ca');
  const server = signedBy(ca, file('server'), '/CN=fake-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  return { caFile: ca.cert, key: readFileSync(server.key), cert: readFileSync(server.cert) };
}

class Fake implements FakeApiServer {
  readonly requests: SeenRequest[] = [];
  readonly caFile: string;
  port = 0;
  private readonly front = net.createServer((socket) => this.accept(socket));
  private readonly tls: https.Server;
  private readonly rules: Rule[] = [];
  private readonly sockets = new Set<net.Socket>();
  private mode: FakeMode = 'serve';

  constructor(private readonly options: FakeOptions) {
    const { caFile, key, cert } = makeCertificates(options.dir);
    this.caFile = caFile;
    this.tls = https.createServer({ key, cert }, (req, res) => this.handle(req, res));
    // Clients that give up mid-handshake are part of the tests, not failures of the fake.
    this.tls.on('tlsClientError', () => undefined);
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve) =>
      this.front.listen(0, '127.0.0.1', () => {
        this.port = (this.front.address() as net.AddressInfo).port;
        resolve();
      }),
    );
  }

  on(method: string, path: string, answer: FakeAnswer): void {
    this.rules.unshift({ method, path, answer });
  }

  setMode(mode: FakeMode): void {
    if (mode === 'forward' && this.options.upstreamPort === undefined) throw new Error('forward mode needs upstreamPort');
    this.mode = mode;
  }

  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  close(): Promise<void> {
    this.cutAll();
    this.tls.close();
    return new Promise((resolve) => this.front.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.mode === 'serve') this.tls.emit('connection', socket);
    else if (this.mode === 'forward') this.forward(socket, this.options.upstreamPort ?? 0);
    else socket.on('data', () => undefined);
  }

  private forward(socket: net.Socket, port: number): void {
    const upstream = net.connect(port, '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('error', () => socket.destroy());
    upstream.once('close', () => {
      this.sockets.delete(upstream);
      socket.destroy();
    });
    socket.once('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: url.searchParams });
    req.resume();
    const rule = this.rules.find((r) => r.method === method && url.pathname.startsWith(r.path));
    answer(res, rule?.answer ?? NOT_FOUND);
  }
}

function answer(res: ServerResponse, a: FakeAnswer): void {
  if (a === 'never') return;
  if (a === 'crash') return void res.socket?.destroy();
  if ('json' in a) {
    res.writeHead(a.status ?? 200, { 'Content-Type': 'application/json', ...a.headers });
    return void res.end(JSON.stringify(a.json));
  }
  if ('text' in a) {
    res.writeHead(a.status ?? 200, { 'Content-Type': a.contentType ?? 'text/html; charset=utf-8' });
    return void res.end(a.text);
  }
  if ('redirect' in a) {
    res.writeHead(a.status, { Location: a.redirect, 'Content-Type': 'text/html' });
    return void res.end(`<a href="${a.redirect}">Moved</a>.`);
  }
  stream(res, a);
}

function stream(res: ServerResponse, a: { stream: string[]; contentType?: string; then: 'end' | 'stall' | 'crash' }): void {
  res.writeHead(200, { 'Content-Type': a.contentType ?? 'application/json' });
  res.flushHeaders();
  for (const chunk of a.stream) res.write(chunk);
  if (a.then === 'end') res.end();
  // A crash after the chunks went out: give them a moment to leave, as a dying process would have sent them.
  else if (a.then === 'crash') setTimeout(() => res.socket?.destroy(), 100);
}

export async function startFakeApiServer(options: FakeOptions): Promise<FakeApiServer> {
  const fake = new Fake(options);
  await fake.listen();
  return fake;
}

/** A kubeconfig for the fake: its CA, or the given ones (both the fake's and the real server's, to switch), a token. */
export function fakeKubeconfig(fake: FakeApiServer, file: string, opts: { caFiles?: string[]; token?: string } = {}): string {
  const ca = (opts.caFiles ?? [fake.caFile]).map((f) => readFileSync(f, 'utf8')).join('');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'fake',
    clusters: [{ name: 'fake', cluster: { server: fake.url, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'fake-user', user: { token: opts.token ?? 'fake-token' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake-user', namespace: 'default' } }],
  };
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}
