import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { ResolvedConfig } from './config.js';

export type Query = Record<string, string | number | boolean | undefined>;

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Gives up when no byte arrives for this long; watches pass a bound above the server's own timeout. */
  idleTimeoutMs?: number;
}

/** A non-2xx answer from the API server, with the fields of its Status object. */
export interface ApiErrorFields {
  status: number;
  reason: string;
  message: string;
  retryAfterSeconds?: number | undefined;
  /** Set when the answer is about one named object; absent when the resource type itself is unknown. */
  objectName?: string | undefined;
}

export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;
  readonly objectName: string | undefined;

  constructor(fields: ApiErrorFields) {
    super(fields.message);
    this.name = 'ApiError';
    this.status = fields.status;
    this.reason = fields.reason;
    this.retryAfterSeconds = fields.retryAfterSeconds;
    this.objectName = fields.objectName;
  }
}

/** The request never got an HTTP answer: refused, reset, timed out, TLS failure. */
export class NetworkError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

export type DebugLog = (line: string) => void;

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
const USER_AGENT = 'member-watch';

/**
 * The one HTTP path to the API server. client-node's KubeConfig supplies TLS material and credentials
 * (tokens, exec plugins, client certificates); requests go through node:http(s) directly so that watches
 * stream line by line, status codes and Retry-After reach the caller, and one keep-alive agent is reused.
 */
export class KubeClient {
  private readonly base: URL;
  private agent: http.Agent | undefined;
  private cached: https.RequestOptions | undefined;

  constructor(
    readonly config: ResolvedConfig,
    private readonly debug?: DebugLog,
  ) {
    this.base = new URL(config.cluster.server);
  }

  get server(): string {
    return this.config.cluster.server;
  }

  /** The same server, credentials and debug log, over a keep-alive pool of its own. */
  withOwnConnections(): KubeClient {
    return new KubeClient(this.config, this.debug);
  }

  async json<T>(req: ApiRequest): Promise<T> {
    const res = await this.send(req);
    const text = await readBody(res);
    if (!isSuccess(res.statusCode)) throw toApiError(res, text);
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  /** Opens a streaming response (a watch); non-2xx answers are read and thrown as ApiError. */
  async stream(req: ApiRequest): Promise<IncomingMessage> {
    const res = await this.send(req);
    if (!isSuccess(res.statusCode)) throw toApiError(res, await readBody(res));
    return res;
  }

  close(): void {
    this.agent?.destroy();
  }

  private async send(req: ApiRequest): Promise<IncomingMessage> {
    const url = this.url(req);
    const options = await this.requestOptions(req);
    const started = performance.now();
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise<IncomingMessage>((resolve, reject) => {
      let response: IncomingMessage | undefined;
      const outgoing = transport.request(url, options, (res) => {
        this.debug?.(`${req.method} ${url.href} ${res.statusCode ?? '?'} ${Math.round(performance.now() - started)}ms`);
        response = res;
        resolve(res);
      });
      cancelOnAbort(req.signal, outgoing, () => response);
      outgoing.setTimeout(req.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => {
        outgoing.destroy(
          new NetworkError('ETIMEDOUT', `no answer from ${this.base.origin} within ${req.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS} ms`),
        );
      });
      outgoing.on('error', (err) => {
        this.debug?.(`${req.method} ${url.href} failed: ${err.message}`);
        reject(toNetworkError(err));
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

  private async requestOptions(req: ApiRequest): Promise<https.RequestOptions> {
    const options = await this.credentials();
    const headers: http.OutgoingHttpHeaders = {
      ...(options.headers as http.OutgoingHttpHeaders),
      Accept: 'application/json',
      'User-Agent': USER_AGENT,
    };
    if (req.contentType !== undefined) headers['Content-Type'] = req.contentType;
    // A proxy agent from the kubeconfig (proxy-url) must be kept; otherwise one keep-alive agent serves every request.
    const agent = this.config.cluster.proxyUrl ? options.agent : this.sharedAgent(options);
    return { method: req.method, headers, agent };
  }

  /**
   * TLS material and the Authorization header. Exec plugins, auth providers and token files may hand out
   * a fresh credential at any time, so for those they are asked per request; static credentials are read
   * once (client-node re-reads CA and key files on every call, which costs more than the request).
   */
  private async credentials(): Promise<https.RequestOptions> {
    if (this.cached) return this.cached;
    const options: https.RequestOptions = { headers: {} };
    await this.config.kc.applyToHTTPSOptions(options);
    const user = this.config.user;
    if (!user?.exec && !user?.authProvider) this.cached = options;
    return options;
  }

  private sharedAgent(options: https.RequestOptions): http.Agent {
    if (this.agent) return this.agent;
    const tls = options.agent instanceof https.Agent ? options.agent.options : {};
    this.agent =
      this.base.protocol === 'http:' ? new http.Agent({ keepAlive: true }) : new https.Agent({ ...tls, keepAlive: true, maxSockets: 16 });
    return this.agent;
  }
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

function isSuccess(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

async function readBody(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}

interface StatusBody {
  kind?: string;
  reason?: string;
  message?: string;
  details?: { name?: string };
}

export function toApiError(res: { statusCode?: number | undefined; headers: IncomingHttpHeaders }, text: string): ApiError {
  const status = res.statusCode ?? 0;
  let body: StatusBody = {};
  try {
    body = JSON.parse(text) as StatusBody;
  } catch {
    // Not every proxy or load balancer answers with a Kubernetes Status.
  }
  const header = res.headers['retry-after'];
  const retryAfter = Number(header);
  return new ApiError({
    status,
    reason: body.reason ?? '',
    message: body.message ?? (text.trim().split('\n', 1)[0] || `HTTP ${status}`),
    retryAfterSeconds: header !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
    objectName: body.details?.name,
  });
}

function toNetworkError(err: Error): NetworkError {
  if (err instanceof NetworkError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'UNKNOWN';
  return new NetworkError(code, err.message);
}
