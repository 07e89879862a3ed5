import type { IncomingHttpHeaders } from 'node:http';

/** A non-2xx answer from the API server, with the fields of its Status object. */
export interface ApiErrorFields {
  status: number;
  reason: string;
  message: string;
  retryAfterSeconds?: number | undefined;
  /** Set when the answer is about one named object; absent when the resource type itself is unknown. */
  objectName?: string | undefined;
  /** The Kubernetes verb of the request that failed (get, list, watch, patch...), for messages. */
  verb?: string | undefined;
}

export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;
  readonly objectName: string | undefined;
  readonly verb: string | undefined;

  constructor(fields: ApiErrorFields) {
    super(fields.message);
    this.name = 'ApiError';
    this.status = fields.status;
    this.reason = fields.reason;
    this.retryAfterSeconds = fields.retryAfterSeconds;
    this.objectName = fields.objectName;
    this.verb = fields.verb;
  }
}

/**
 * The request got no complete HTTP answer. `code` says what happened (for decisions and for wording notices);
 * `message` says it in plain words, naming the server or proxy, without OpenSSL's error codes:
 *
 * - ECONNREFUSED, ECONNRESET, ENOTFOUND, EAI_AGAIN, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, EPIPE: the operating
 *   system's codes, as Node reports them
 * - CLOSED: the server (or something in between) closed the connection before the answer was complete
 * - CONNECT_TIMEOUT, TLS_HANDSHAKE_TIMEOUT: the connection, or its TLS handshake, did not finish in time
 * - IDLE_TIMEOUT: no answer, or no more data in an answer, for longer than the request's silence limit
 * - PROXY_REFUSED, PROXY_UNAVAILABLE, PROXY_CLOSED: the proxy would not open a tunnel (4xx; 5xx; it hung up)
 * - ABORTED: cancelled by the caller
 * - a TLS verification code (DEPTH_ZERO_SELF_SIGNED_CERT, ERR_TLS_CERT_ALTNAME_INVALID, CERT_HAS_EXPIRED...) or
 *   ERR_SSL_*, EPROTO: the server could not be trusted or would not complete a TLS handshake (see isTlsFailure)
 */
export class NetworkError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

/**
 * An answer no Kubernetes API server gives: a redirect, an HTML page, JSON that is not a Kubernetes object,
 * malformed JSON. Something else answers at that address (a login page, a proxy): retrying will not help.
 */
export class UnexpectedAnswer extends Error {
  constructor(
    readonly code: 'REDIRECT' | 'NOT_JSON' | 'NOT_KUBERNETES' | 'BAD_JSON',
    /** What came back, in words, e.g. `an HTML page (HTTP 200): "<html>…"`. */
    message: string,
  ) {
    super(message);
    this.name = 'UnexpectedAnswer';
  }
}

const beforeSending = new WeakSet<object>();

/** The request was never sent: getting its credentials failed (an exec plugin, a token file). */
export function failedBeforeSending(err: unknown): boolean {
  return typeof err === 'object' && err !== null && beforeSending.has(err);
}

export function markFailedBeforeSending(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) beforeSending.add(err);
  return err;
}

const NOT_TRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);
const CERT_DATES: Record<string, string> = {
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet",
};

/** The server's certificate failed verification, or the TLS handshake itself failed: no retry will change that. */
export function isTlsFailure(code: string): boolean {
  return (
    NOT_TRUSTED.has(code) ||
    code in CERT_DATES ||
    code === 'ERR_TLS_CERT_ALTNAME_INVALID' ||
    code === 'EPROTO' ||
    code.startsWith('ERR_SSL_')
  );
}

/** Any error from a request or its answer, as a NetworkError with a plain message about `host`. */
export function toNetworkError(err: Error, host: string): NetworkError {
  if (err instanceof NetworkError) return err;
  const e = err as NodeJS.ErrnoException & { host?: string };
  const code = e.code ?? 'UNKNOWN';
  if (code === 'ECONNRESET' && e.message === 'socket hang up')
    return new NetworkError('CLOSED', 'the server closed the connection without answering');
  if (code === 'ECONNRESET' && e.message === 'aborted') return new NetworkError('CLOSED', 'the connection was closed by the server');
  return new NetworkError(code, plainMessage(code, e, host));
}

function plainMessage(code: string, err: NodeJS.ErrnoException & { host?: string }, host: string): string {
  const hostname = host.replace(/:\d+$/, '');
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'the connection was reset',
    ENOTFOUND: `host ${hostname} not found`,
    EAI_AGAIN: `looking up ${hostname} failed (DNS not answering)`,
    ETIMEDOUT: 'the connection timed out',
    EHOSTUNREACH: 'no route to the host',
    ENETUNREACH: 'the network is unreachable',
    EPIPE: 'the connection was closed while the request was being sent',
    ERR_TLS_CERT_ALTNAME_INVALID: `the server's certificate is not valid for the name ${err.host ?? hostname}`,
    ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS at this address (plain http?)',
    ...CERT_DATES,
  };
  if (known[code] !== undefined) return known[code];
  if (NOT_TRUSTED.has(code)) return "the server's certificate is not signed by the certificate authority in the kubeconfig";
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return `the TLS handshake failed: ${sslReason(code, err.message)}`;
  return err.message;
}

/** `ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE` → `the server sent alert: bad certificate`. */
function sslReason(code: string, message: string): string {
  const alert = /ALERT_(.+)$/.exec(code)?.[1];
  if (alert) return `the server refused it (${alert.toLowerCase().replace(/_/g, ' ')}): does it want a different client certificate?`;
  const reason = /:([^:]+)$/.exec(message)?.[1]?.trim();
  return reason && reason !== ''
    ? reason
    : code
        .replace(/^ERR_SSL_/, '')
        .toLowerCase()
        .replace(/_/g, ' ');
}

interface StatusBody {
  kind?: unknown;
  reason?: unknown;
  message?: unknown;
  details?: { name?: unknown };
}

/**
 * A non-2xx answer as an error. A Kubernetes Status or plain text becomes an ApiError; so does a 429 or 5xx of
 * any shape (load balancers and proxies answer those in HTML, and they can pass); any other HTML page or JSON
 * that is not a Status is not from a Kubernetes API server.
 */
export function toApiError(res: { statusCode?: number | undefined; headers: IncomingHttpHeaders }, text: string, verb?: string): Error {
  const status = res.statusCode ?? 0;
  const parsed = parseObject(text) as StatusBody | undefined;
  const body = parsed?.kind === 'Status' ? parsed : undefined;
  // The API server itself answers some errors in plain text (`404 page not found` for an API group it does not
  // serve); an HTML page or JSON of another shape comes from something else.
  const foreign = body === undefined && (isHtml(res, text) || parsed !== undefined);
  if (foreign && status !== 429 && status < 500) return new UnexpectedAnswer('NOT_KUBERNETES', describeBody(res, text, status));
  return new ApiError({ status, ...statusFields(body, text, status), retryAfterSeconds: retryAfter(res.headers['retry-after']), verb });
}

function statusFields(
  body: StatusBody | undefined,
  text: string,
  status: number,
): Pick<ApiErrorFields, 'reason' | 'message' | 'objectName'> {
  return {
    reason: typeof body?.reason === 'string' ? body.reason : '',
    message: typeof body?.message === 'string' ? body.message : firstWords(text) || `HTTP ${status}`,
    objectName: typeof body?.details?.name === 'string' ? body.details.name : undefined,
  };
}

function retryAfter(header: string | undefined): number | undefined {
  const seconds = Number(header);
  return header !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/** A 2xx body that must be one Kubernetes object (every object, list and Status has kind and apiVersion). */
export function kubernetesObject(res: { statusCode?: number | undefined; headers: IncomingHttpHeaders }, text: string): object {
  const status = res.statusCode ?? 0;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UnexpectedAnswer(isJson(res) ? 'BAD_JSON' : 'NOT_JSON', describeBody(res, text, status));
  }
  if (!isKubernetesObject(value)) throw new UnexpectedAnswer('NOT_KUBERNETES', describeBody(res, text, status));
  return value;
}

function isKubernetesObject(value: unknown): value is { kind: string; apiVersion: string } {
  const v = value as { kind?: unknown; apiVersion?: unknown } | null;
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v.kind === 'string' && typeof v.apiVersion === 'string';
}

export function isJson(res: { headers: IncomingHttpHeaders }): boolean {
  return /json/i.test(res.headers['content-type'] ?? '');
}

/** What came back, for a message: its kind and its first words, quoted (escaped) and cut short. */
export function describeBody(res: { headers: IncomingHttpHeaders }, text: string, status: number): string {
  const trimmed = text.trim();
  const what =
    trimmed === ''
      ? 'an empty answer'
      : isHtml(res, trimmed)
        ? 'an HTML page'
        : parseObject(trimmed) !== undefined
          ? 'JSON that is not a Kubernetes object'
          : isJson(res)
            ? 'malformed JSON'
            : 'text that is not JSON';
  return trimmed === '' ? `${what} (HTTP ${status})` : `${what} (HTTP ${status}): ${JSON.stringify(firstWords(trimmed))}`;
}

function isHtml(res: { headers: IncomingHttpHeaders }, text: string): boolean {
  return /html/i.test(res.headers['content-type'] ?? '') || /^\s*<(!doctype|html|head|body)/i.test(text);
}

const WORDS = 80;

function firstWords(text: string): string {
  const words = text.replace(/\s+/g, ' ').trim();
  return words.length > WORDS ? `${words.slice(0, WORDS)}…` : words;
}

function parseObject(text: string): object | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
