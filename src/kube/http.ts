import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import type { ResolvedConfig } from './config.js';
import { type Credential, Credentials } from './credentials.js';
import {
  ApiError,
  describeBody,
  isJson,
  kubernetesObject,
  markFailedBeforeSending,
  NetworkError,
  toApiError,
  toNetworkError,
  UnexpectedAnswer,
} from './failures.js';
import { chooseProxy, type ProxyChoice, redact, TunnelAgent } from './proxy.js';
import { loadTls, type TlsMaterial } from './tls.js';

export { ApiError, NetworkError, UnexpectedAnswer } from './failures.js';

export type Query = Record<string, string | number | boolean | undefined>;

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /**
   * Gives up when no byte arrives for this long; watches pass a bound above the server's own timeout.
   * Connecting, TLS handshake included, must finish within this too (and within CONNECT_TIMEOUT_MS).
   */
  idleTimeoutMs?: number;
}

export type DebugLog = (line: string) => void;

/** What clients of one cluster and user share: read, checked and run once. */
interface Shared {
  tls: TlsMaterial;
  credentials: Credentials;
  proxy: ProxyChoice | undefined;
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** client-go's limit on asking again when the server says when to (see `json`). */
const MAX_RETRIES_AFTER = 10;
/** client-go's TLS handshake timeout. */
const CONNECT_TIMEOUT_MS = 10_000;
const USER_AGENT = 'member-watch';

/**
 * The one HTTP path to the API server. TLS material and credentials (tokens, token files, exec plugins, client
 * certificates) are read from the kubeconfig and checked before the first request; requests go through
 * node:http(s) directly so that watches stream line by line, status codes and Retry-After reach the caller,
 * and keep-alive connections are reused. Every failure comes out as an ApiError (a Kubernetes Status),
 * a NetworkError (no complete answer) or an UnexpectedAnswer (something that is not a Kubernetes API server).
 */
export class KubeClient {
  private readonly base: URL;
  private readonly tls: TlsMaterial;
  private readonly credentials: Credentials;
  private readonly proxy: ProxyChoice | undefined;
  /**
   * One keep-alive agent per client certificate (an exec plugin may rotate it); '' for none. Kept as a promise from
   * the first request on, so that requests starting together share one pool and its limit of connections.
   */
  private readonly agents = new Map<string, Promise<http.Agent>>();

  constructor(
    readonly config: ResolvedConfig,
    private readonly debug?: DebugLog,
    shared?: Shared,
  ) {
    this.base = new URL(config.cluster.server);
    this.tls = shared?.tls ?? loadTls(config);
    this.credentials = shared?.credentials ?? new Credentials(config, this.tls.caPem);
    this.proxy = shared === undefined ? chooseProxy(config.cluster, config.source, process.env) : shared.proxy;
    if (this.proxy && shared === undefined) debug?.(`through the proxy ${redact(this.proxy.url.href)} (from ${this.proxy.from})`);
  }

  get server(): string {
    return this.config.cluster.server;
  }

  /**
   * The same server, TLS material, credentials (an exec plugin is not run again for it) and debug log, over a
   * keep-alive pool of its own.
   */
  withOwnConnections(): KubeClient {
    return new KubeClient(this.config, this.debug, { tls: this.tls, credentials: this.credentials, proxy: this.proxy });
  }

  /**
   * One request whose answer must be a Kubernetes object. A 429 or 5xx with `Retry-After` (a server restarting, or
   * its storage for a resource type (re)initializing after a CRD changed) is asked again after that many seconds, up
   * to 10 times, as client-go (so kubectl) does for every verb: such an answer says the request was not acted on.
   * Streams (lists read item by item, watches) are left to the watcher, which tells why it waits.
   */
  async json<T>(req: ApiRequest): Promise<T> {
    for (let retries = 0; ; retries++) {
      const res = await this.send(req);
      const text = await readBody(res);
      if (isSuccess(res.statusCode)) return kubernetesObject(res, text) as T;
      const err = toApiError(res, text, kubernetesVerb(req));
      const waitSeconds = err instanceof ApiError && asksToRetry(err) ? err.retryAfterSeconds : undefined;
      if (waitSeconds === undefined || retries === MAX_RETRIES_AFTER) throw err;
      this.debug?.(`${req.method} ${req.path}: HTTP ${err instanceof ApiError ? err.status : '?'}, asked again in ${waitSeconds}s`);
      await pause(waitSeconds * 1000, req.signal);
    }
  }

  /** Opens a streaming response (a list read item by item, a watch); failures are thrown as for `json`. */
  async stream(req: ApiRequest): Promise<IncomingMessage> {
    const res = await this.send(req);
    if (!isSuccess(res.statusCode)) throw toApiError(res, await readBody(res), kubernetesVerb(req));
    // An HTML page from a proxy or a login portal would otherwise be read as a list or watch that says nothing.
    if (res.headers['content-type'] !== undefined && !isJson(res)) {
      throw new UnexpectedAnswer('NOT_JSON', describeBody(res, await readBody(res, 2_000), res.statusCode ?? 0));
    }
    return res;
  }

  /** A line for the --debug log from the layers above, about what an answer meant (where a streamed list ended). */
  note(line: string): void {
    this.debug?.(line);
  }

  close(): void {
    for (const agent of this.agents.values()) void agent.then((a) => a.destroy());
  }

  /** Sends; after a 401, once more with fresh credentials if the token file or exec plugin has some (as client-go). */
  private async send(req: ApiRequest): Promise<IncomingMessage> {
    const first = await this.credential();
    let res = await this.exchange(req, first);
    if (res.statusCode === 401 && (await this.credentials.refresh(first))) {
      res.resume();
      res = await this.exchange(req, await this.credential());
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400) {
      res.resume();
      const location = res.headers.location;
      throw new UnexpectedAnswer('REDIRECT', `a redirect${location ? ` to ${JSON.stringify(location)}` : ''} (HTTP ${status})`);
    }
    return res;
  }

  private async credential(): Promise<Credential> {
    try {
      return await this.credentials.get();
    } catch (err) {
      throw markFailedBeforeSending(err);
    }
  }

  private async exchange(req: ApiRequest, credential: Credential): Promise<IncomingMessage> {
    const url = this.url(req);
    const headers: http.OutgoingHttpHeaders = { ...credential.headers, accept: 'application/json', 'user-agent': USER_AGENT };
    if (req.contentType !== undefined) headers['content-type'] = req.contentType;
    const agent = await this.agentFor(credential);
    const idleMs = req.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    const started = performance.now();
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise<IncomingMessage>((resolve, reject) => {
      let response: IncomingMessage | undefined;
      const outgoing = transport.request(url, { method: req.method, headers, agent }, (res) => {
        this.debug?.(`${req.method} ${url.href} ${res.statusCode ?? '?'} ${Math.round(performance.now() - started)}ms`);
        response = res;
        reportCuts(res, url.host);
        resolve(res);
      });
      limitTime(outgoing, agent, { idleMs, connectMs: Math.min(idleMs, CONNECT_TIMEOUT_MS), host: url.host }, () => response);
      cancelOnAbort(req.signal, outgoing, () => response);
      outgoing.on('error', (err) => {
        const failure = toNetworkError(err, url.host);
        this.debug?.(`${req.method} ${url.href} failed: ${failure.message}`);
        reject(failure);
      });
      if (req.body !== undefined) outgoing.write(typeof req.body === 'string' ? req.body : JSON.stringify(req.body));
      outgoing.end();
    });
  }

  private url(req: ApiRequest): URL {
    const url = new URL(this.base.href.replace(/\/$/, '') + req.path);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  private agentFor(credential: Credential): Promise<http.Agent> {
    const id = credential.cert === undefined ? '' : `${credential.cert}\n${credential.key ?? ''}`;
    const existing = this.agents.get(id);
    if (existing) return existing;
    // A rotated client certificate replaces the agent of the one before, whose connections end with it.
    for (const [key, old] of this.agents) {
      if (key === '') continue;
      void old.then((a) => a.destroy());
      this.agents.delete(key);
    }
    const agent = this.makeAgent(credential);
    this.agents.set(id, agent);
    return agent;
  }

  private async makeAgent(credential: Credential): Promise<http.Agent> {
    if (this.base.protocol === 'http:') return new http.Agent({ keepAlive: true });
    const options: https.AgentOptions = {
      ca: this.tls.ca,
      cert: credential.cert ?? this.tls.cert,
      key: credential.key ?? this.tls.key,
      rejectUnauthorized: this.tls.rejectUnauthorized,
      servername: this.tls.servername,
      keepAlive: true,
      maxSockets: 16,
    };
    const proxy = this.proxy?.url;
    if (proxy === undefined) return new https.Agent(options);
    if (proxy.protocol === 'http:' || proxy.protocol === 'https:') return new TunnelAgent(proxy, options);
    return socksAgent(this.config, proxy, options);
  }
}

/**
 * SOCKS proxies are left to client-node's agent, loaded only for them. `socks5://` is handed over as `socks5h://`:
 * the proxy resolves the server's name, as Go's SOCKS5 dialer (kubectl's) has it do, rather than this machine.
 */
async function socksAgent(config: ResolvedConfig, proxy: URL, options: https.AgentOptions): Promise<http.Agent> {
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const base64 = (pem: string | Buffer | Array<string | Buffer> | undefined): string | undefined =>
    pem === undefined ? undefined : Buffer.from([pem].flat().join('\n')).toString('base64');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'socks',
        server: config.cluster.server,
        proxyUrl: proxy.href.replace(/^socks5:/, 'socks5h:'),
        caData: base64(options.ca),
        skipTLSVerify: options.rejectUnauthorized === false,
        tlsServerName: options.servername,
      },
    ],
    users: [{ name: 'socks', certData: base64(options.cert), keyData: base64(options.key as string | undefined) }],
    contexts: [{ name: 'socks', cluster: 'socks', user: 'socks' }],
    currentContext: 'socks',
  });
  const agentOptions: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(agentOptions);
  return agentOptions.agent as http.Agent;
}

/**
 * Two limits. Connecting, TLS handshake (and proxy tunnel) included, must finish within `connectMs` from the moment
 * a connection is being made for the request, as one deadline rather than one per phase. Otherwise, silence longer
 * than `idleMs` ends the request, or the answer being read, with an IDLE_TIMEOUT that says so: waiting in the
 * keep-alive agent's queue for a free connection is silence too.
 *
 * Whether the socket handed over still has to connect is read from the socket itself: a request that waited in the
 * agent's queue gets a connected socket with `reusedSocket` false, and would otherwise wait for events that never
 * come, its deadline armed and its listeners left on the socket.
 */
function limitTime(
  outgoing: ClientRequest,
  agent: http.Agent,
  limits: { idleMs: number; connectMs: number; host: string },
  response: () => IncomingMessage | undefined,
): void {
  const { idleMs, connectMs, host } = limits;
  let phase: 'connect' | 'tls' = 'connect';
  let timer: NodeJS.Timeout | undefined;
  const fail = (err: NetworkError): void => void outgoing.destroy(err);
  const silence = (): NetworkError => new NetworkError('IDLE_TIMEOUT', `no answer from ${host} within ${seconds(idleMs)}`);
  const startConnecting = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      fail(
        phase === 'tls'
          ? new NetworkError('TLS_HANDSHAKE_TIMEOUT', `TLS handshake with ${host} did not finish within ${seconds(connectMs)}`)
          : new NetworkError('CONNECT_TIMEOUT', `connecting to ${host} did not finish within ${seconds(connectMs)}`),
      );
    }, connectMs);
  };
  const connected = (): void => {
    clearTimeout(timer);
    outgoing.setTimeout(idleMs, () => {
      const res = response();
      if (res) res.destroy(new NetworkError('IDLE_TIMEOUT', `no data from ${host} for ${seconds(idleMs)}`));
      else fail(silence());
    });
  };
  // Queued: no connection is being made for it yet. Otherwise one is (a tunnel through a proxy before any socket).
  const queued = isQueued(agent, outgoing);
  if (queued) timer = setTimeout(() => fail(silence()), idleMs);
  else startConnecting();
  let unlisten = (): void => undefined;
  outgoing.once('close', () => {
    clearTimeout(timer);
    unlisten();
  });
  outgoing.once('socket', (socket) => {
    if (isConnected(socket)) return connected();
    // A socket made for it after a wait in the queue (one before it was closed): connecting starts now.
    if (queued) startConnecting();
    if (!socket.connecting) phase = 'tls';
    const onConnect = (): void => void (phase = 'tls');
    const done = socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    const onDone = (): void => {
      unlisten();
      connected();
    };
    if (done === 'secureConnect') socket.once('connect', onConnect);
    socket.once(done, onDone);
    unlisten = () => {
      socket.off('connect', onConnect);
      socket.off(done, onDone);
    };
  });
}

/** Waiting in the agent's queue for one of its `maxSockets` connections. */
function isQueued(agent: http.Agent, outgoing: ClientRequest): boolean {
  return Object.values(agent.requests).some((waiting) => waiting?.includes(outgoing));
}

/** TCP connected and, for TLS, the handshake done: the peer's Finished message has arrived. */
function isConnected(socket: net.Socket): boolean {
  if (socket.connecting || socket.pending) return false;
  return !(socket instanceof tls.TLSSocket) || socket.getPeerFinished() !== undefined;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Node ends an answer cut short with a bare "aborted"; say instead whether the connection was reset or closed,
 * before Node's own listener gets to it (the first destroy wins). Removed once the answer is done, since the
 * socket lives on in the keep-alive pool.
 */
function reportCuts(res: IncomingMessage, host: string): void {
  const socket = res.socket;
  if (socket === null) return;
  let reset = false;
  const onError = (err: NodeJS.ErrnoException): void => void (reset = err.code === 'ECONNRESET');
  const onClose = (): void => {
    if (res.complete || res.destroyed) return;
    res.destroy(
      reset
        ? new NetworkError('ECONNRESET', `the connection to ${host} was reset`)
        : new NetworkError('CLOSED', 'the connection was closed by the server'),
    );
  };
  socket.prependListener('error', onError);
  socket.prependListener('close', onClose);
  res.once('close', () => {
    socket.off('error', onError);
    socket.off('close', onClose);
  });
}

/**
 * Instead of the request's own `signal` option, which destroys the socket with an error even when the whole
 * response has arrived: the socket then goes back to the keep-alive pool before that error is raised, and an
 * error nobody listens to ends the process. Destroying the response instead leaves a complete one alone.
 */
function cancelOnAbort(signal: AbortSignal | undefined, outgoing: http.ClientRequest, response: () => IncomingMessage | undefined): void {
  if (signal === undefined) return;
  const abort = (): void => {
    const res = response();
    if (res) res.destroy();
    else outgoing.destroy(new NetworkError('ABORTED', 'request aborted'));
  };
  if (signal.aborted) return abort();
  signal.addEventListener('abort', abort, { once: true });
  outgoing.once('close', () => signal.removeEventListener('abort', abort));
}

function asksToRetry(err: ApiError): boolean {
  return (err.status === 429 || err.status >= 500) && err.retryAfterSeconds !== undefined;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new NetworkError('ABORTED', 'request aborted'));
    const abort = (): void => {
      clearTimeout(timer);
      reject(new NetworkError('ABORTED', 'request aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}

function isSuccess(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

/** The body as text; with `limit`, only its start (the rest is dropped with the connection). */
async function readBody(res: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) {
    text += chunk as string;
    if (text.length >= limit) {
      res.destroy();
      break;
    }
  }
  return text;
}

const COLLECTION = /^\/(?:api\/[^/]+|apis\/[^/]+\/[^/]+)(?:\/namespaces\/[^/]+)?\/[^/]+$/;

/** The verb RBAC checks for a request, as the API server derives it (get vs list by whether a name is given). */
export function kubernetesVerb(req: Pick<ApiRequest, 'method' | 'path' | 'query'>): string {
  const collection = COLLECTION.test(req.path.split('?')[0] ?? '');
  switch (req.method) {
    case 'GET':
      if (req.query?.['watch'] !== undefined && req.query['watch'] !== false) return 'watch';
      return collection ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    default:
      return collection ? 'deletecollection' : 'delete';
  }
}
