import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ControlPlane } from './control-plane.js';

export interface Fault {
  status: number;
  retryAfterSeconds?: number;
  /** Only requests with these methods get the fault; the others are forwarded. */
  methods?: string[];
  /** This JSON as the answer instead of a Status: a 200 that is not what was asked for. */
  body?: unknown;
  /** Only the next this many requests get the fault; the ones after are forwarded again. */
  times?: number;
}

/** Picks requests by method and path (the query left off). */
export type RequestMatch = (method: string, path: string) => boolean;

interface Partition {
  match: RequestMatch;
  active: boolean;
  started: () => void;
  /** Requests held without an answer while the partition lasts. */
  held: Set<ServerResponse>;
}

/**
 * What becomes of the bookmark that ends a streamed list's initial events: passed on, withheld (the stream goes on
 * without it), the answer ended in its place, or a 410 ERROR event sent in its place.
 */
export type InitialEventsEnd = 'pass' | 'withhold' | 'end' | 'expire';

/** What kube-apiserver 1.20 answers to a watch with sendInitialEvents and resourceVersionMatch, word for word. */
const REFUSED_BY_1_20 = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message:
    'ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch, resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided]',
  reason: 'Invalid',
  details: {
    group: 'meta.k8s.io',
    kind: 'ListOptions',
    causes: [
      { reason: 'FieldValueForbidden', message: 'Forbidden: resourceVersionMatch is forbidden for watch', field: 'resourceVersionMatch' },
      {
        reason: 'FieldValueForbidden',
        message: 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
        field: 'resourceVersionMatch',
      },
    ],
  },
  code: 422,
};

const EXPIRED = JSON.stringify({
  type: 'ERROR',
  object: {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'too old resource version',
    reason: 'Expired',
    code: 410,
  },
});

/**
 * An HTTPS proxy in front of the API server that can answer with errors of its own (429, 5xx),
 * which a TCP proxy cannot: it terminates TLS with its own certificate and counts the requests.
 */
export interface HttpFaultProxy {
  readonly kubeconfig: string;
  /** Requests received so far (answered or forwarded). */
  readonly requests: number;
  /** From now on answer every request with this fault (undefined: forward again); open streams are cut. */
  inject(fault: Fault | undefined): void;
  /** Holds the next request with this method until released, then forwards it: a window for a concurrent writer. */
  holdNext(method: string): { arrived: Promise<void>; release: () => void };
  /**
   * From now on put these raw texts first among the items of every list of members, paged or streamed (as ADDED
   * events before the initial events); undefined: lists pass as they are.
   */
  addListItems(items: string[] | undefined): void;
  /** From now on answer streamed lists (watches with sendInitialEvents) as kube-apiserver 1.20 does: 422. */
  refuseStreamedLists(refuse: boolean): void;
  /** From now on treat the bookmark that ends the initial events of streamed lists so. */
  initialEventsEnd(how: InitialEventsEnd): void;
  /** Writes a raw line into every open watch, as if the API server had sent it; returns how many watches got it. */
  sendToWatches(line: string): number;
  /**
   * The next `count` requests that `match` have their connection closed before anything is forwarded: the client
   * gets no answer and cannot tell whether the request was applied.
   */
  resetNext(count: number, match: RequestMatch): void;
  /**
   * A partition that starts with a write: the first request that `match` is forwarded and applied, but its answer
   * is swallowed, and from then on nothing is answered (open streams are cut, new requests hang) until `heal()`.
   */
  partitionAt(match: RequestMatch): { started: Promise<void>; heal: () => void };
  close(): Promise<void>;
}

export async function startHttpFaultProxy(cp: ControlPlane): Promise<HttpFaultProxy> {
  const key = join(cp.dir, 'fault-proxy.key');
  const cert = join(cp.dir, 'fault-proxy.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  const proxy = new FaultProxy(cp, readFileSync(key), readFileSync(cert));
  const port = await proxy.listen();
  const config = JSON.parse(readFileSync(cp.kubeconfig, 'utf8')) as { clusters: Array<{ cluster: Record<string, string> }> };
  for (const { cluster } of config.clusters) {
    cluster.server = `https://127.0.0.1:${port}`;
    cluster['certificate-authority'] = cert;
  }
  const kubeconfig = join(cp.dir, `kubeconfig-fault-proxy-${port}`);
  writeFileSync(kubeconfig, JSON.stringify(config), { mode: 0o600 });
  return Object.assign(proxy, { kubeconfig });
}

class FaultProxy {
  private readonly server: https.Server;
  private readonly open = new Set<ServerResponse>();
  private readonly watches = new Set<ServerResponse>();
  private fault: Fault | undefined;
  private faultsLeft = Number.POSITIVE_INFINITY;
  private extraItems: string[] | undefined;
  private refuseStreams = false;
  private endOfInitialEvents: InitialEventsEnd = 'pass';
  private count = 0;
  private readonly holds = new Map<string, { arrived: () => void; released: Promise<void> }>();
  private resets: { count: number; match: RequestMatch } | undefined;
  private partition: Partition | undefined;

  constructor(
    private readonly cp: ControlPlane,
    key: Buffer,
    cert: Buffer,
  ) {
    this.server = https.createServer({ key, cert }, (req, res) => this.handle(req, res));
  }

  get requests(): number {
    return this.count;
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port)));
  }

  inject(fault: Fault | undefined): void {
    this.fault = fault;
    this.faultsLeft = fault?.times ?? Number.POSITIVE_INFINITY;
    for (const res of this.open) res.destroy();
    this.open.clear();
  }

  holdNext(method: string): { arrived: Promise<void>; release: () => void } {
    let arrived = (): void => undefined;
    let release = (): void => undefined;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.holds.set(method, { arrived, released });
    return { arrived: arrival, release };
  }

  addListItems(items: string[] | undefined): void {
    this.extraItems = items;
  }

  refuseStreamedLists(refuse: boolean): void {
    this.refuseStreams = refuse;
  }

  initialEventsEnd(how: InitialEventsEnd): void {
    this.endOfInitialEvents = how;
  }

  sendToWatches(line: string): number {
    for (const res of this.watches) res.write(`${line}\n`);
    return this.watches.size;
  }

  resetNext(count: number, match: RequestMatch): void {
    this.resets = { count, match };
  }

  partitionAt(match: RequestMatch): { started: Promise<void>; heal: () => void } {
    let started = (): void => undefined;
    const arrival = new Promise<void>((resolve) => (started = resolve));
    const partition: Partition = { match, active: false, started, held: new Set() };
    this.partition = partition;
    const heal = (): void => {
      if (this.partition === partition) this.partition = undefined;
      for (const res of partition.held) res.destroy();
      partition.held.clear();
    };
    return { started: arrival, heal };
  }

  close(): Promise<void> {
    this.partition?.held.forEach((res) => res.destroy());
    this.partition = undefined;
    this.inject(undefined);
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.count += 1;
    const method = req.method ?? '';
    const path = new URL(req.url ?? '/', this.cp.server).pathname;
    if (this.partitioned(req, res, method, path) || this.reset(req, method, path) || this.injected(res, method)) return;
    const hold = this.holds.get(method);
    if (hold === undefined) return this.forward(req, res);
    this.holds.delete(method);
    hold.arrived();
    void hold.released.then(() => this.forward(req, res));
  }

  /** True when the injected fault answers the request instead of the API server. */
  private injected(res: ServerResponse, method: string): boolean {
    const fault = this.fault;
    if (fault === undefined || (fault.methods !== undefined && !fault.methods.includes(method))) return false;
    this.faultsLeft -= 1;
    if (this.faultsLeft <= 0) this.fault = undefined;
    this.answer(res, fault);
    return true;
  }

  private reset(req: IncomingMessage, method: string, path: string): boolean {
    const resets = this.resets;
    if (resets === undefined || resets.count === 0 || !resets.match(method, path)) return false;
    resets.count -= 1;
    req.socket.destroy();
    return true;
  }

  /** True when the partition takes the request: held unanswered, or (the first write) forwarded with its answer swallowed. */
  private partitioned(req: IncomingMessage, res: ServerResponse, method: string, path: string): boolean {
    const partition = this.partition;
    if (partition === undefined) return false;
    if (!partition.active && !partition.match(method, path)) return false;
    partition.held.add(res);
    res.on('close', () => partition.held.delete(res));
    if (partition.active) {
      req.resume();
      return true;
    }
    partition.active = true;
    for (const open of this.open) open.destroy();
    this.open.clear();
    const upstream = https.request(new URL(req.url ?? '/', this.cp.server), {
      method,
      headers: req.headers,
      ca: readFileSync(this.cp.caFile),
    });
    upstream.on('response', (answer) => {
      answer.resume();
      partition.started();
    });
    upstream.on('error', () => partition.started());
    req.pipe(upstream);
    return true;
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.cp.server);
    const watch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
    const list = !watch && req.method === 'GET' && url.pathname.endsWith('/members');
    const streamed = watch && url.searchParams.get('sendInitialEvents') === 'true';
    if (streamed && this.refuseStreams) return this.answer(res, { status: 422, body: REFUSED_BY_1_20 });
    this.open.add(res);
    if (watch) this.watches.add(res);
    res.on('close', () => {
      this.open.delete(res);
      this.watches.delete(res);
    });
    const upstream = https.request(url, { method: req.method, headers: req.headers, ca: readFileSync(this.cp.caFile) }, (answer) => {
      const extra = this.extraItems;
      if (list && extra !== undefined && answer.statusCode === 200) return this.forwardListWith(answer, res, extra);
      const end = this.endOfInitialEvents;
      if (streamed && (extra !== undefined || end !== 'pass') && answer.statusCode === 200) {
        return this.forwardStreamWith(answer, res, extra ?? [], end);
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      // A watch answers its headers long before its first event: pass them on at once, as the API server does.
      res.flushHeaders();
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }

  /** The whole list, read, with the extra items put first (the list is small in the tests that use this). */
  private forwardListWith(answer: IncomingMessage, res: ServerResponse, extra: string[]): void {
    let body = '';
    answer.setEncoding('utf8');
    answer.on('data', (chunk: string) => (body += chunk));
    answer.on('end', () => {
      const items = body.indexOf('"items":[');
      const at = items + '"items":['.length;
      const rest = body.slice(at);
      const patched = items < 0 ? body : `${body.slice(0, at)}${extra.join(',')}${rest.startsWith(']') ? '' : ','}${rest}`;
      const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(patched)) };
      delete headers['transfer-encoding'];
      res.writeHead(answer.statusCode ?? 200, headers);
      res.end(patched);
    });
  }

  /** A streamed list line by line: the extra items first, and the bookmark that ends the initial events as `end` says. */
  private forwardStreamWith(answer: IncomingMessage, res: ServerResponse, extra: string[], end: InitialEventsEnd): void {
    res.writeHead(200, answer.headers);
    for (const item of extra) res.write(`{"type":"ADDED","object":${item}}\n`);
    let rest = '';
    answer.setEncoding('utf8');
    answer.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        // Ended in the bookmark's place: nothing after it.
        if (res.writableEnded) return;
        if (end === 'pass' || !line.includes('"k8s.io/initial-events-end":"true"')) res.write(`${line}\n`);
        else if (end === 'expire') res.end(`${EXPIRED}\n`);
        else if (end === 'end') res.end();
      }
    });
    answer.on('end', () => {
      if (!res.writableEnded) res.end(rest);
    });
  }

  private answer(res: ServerResponse, fault: Fault): void {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
    res.writeHead(fault.status, headers);
    const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `injected ${fault.status}`, code: fault.status };
    res.end(JSON.stringify(fault.body ?? status));
  }
}
