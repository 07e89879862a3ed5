import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError, ExitCode } from '../errors.js';
import type { Exposition } from './metrics.js';

/** Where to listen, as controller-runtime's flags take it: ":8081" (every interface), "127.0.0.1:8081", "[::1]:8081". */
export interface BindAddress {
  text: string;
  host: string | undefined;
  port: number;
}

export interface Endpoint {
  /** The address actually bound (the port is known also when :0 was asked for). */
  readonly address: string;
  close(): Promise<void>;
}

/** /healthz answers while the process runs; /readyz once `ready()` gives no reason to wait. */
export function serveProbes(at: BindAddress, notReady: () => string | undefined): Promise<Endpoint> {
  return serve(at, { what: 'the health probes', flag: '--health-probe-bind-address' }, async (path) => {
    if (path === '/healthz') return { status: 200, type: 'text/plain; charset=utf-8', body: 'ok' };
    if (path !== '/readyz') return undefined;
    const reason = notReady();
    return reason === undefined
      ? { status: 200, type: 'text/plain; charset=utf-8', body: 'ok' }
      : { status: 503, type: 'text/plain; charset=utf-8', body: `not ready: ${reason}` };
  });
}

export function serveMetrics(at: BindAddress, exposition: Exposition): Promise<Endpoint> {
  return serve(at, { what: 'the metrics', flag: '--metrics-bind-address' }, async (path) =>
    path === '/metrics' ? { status: 200, type: exposition.contentType, body: await exposition.text() } : undefined,
  );
}

interface Answer {
  status: number;
  type: string;
  body: string;
}

type Route = (path: string) => Promise<Answer | undefined>;

async function serve(at: BindAddress, names: { what: string; flag: string }, route: Route): Promise<Endpoint> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const answer =
      req.method === 'GET' || req.method === 'HEAD'
        ? route(path)
        : Promise.resolve({ status: 405, type: 'text/plain', body: 'method not allowed' });
    void answer.then(
      (a) => send(res, a ?? { status: 404, type: 'text/plain', body: 'not found' }),
      (err: unknown) => send(res, { status: 500, type: 'text/plain', body: err instanceof Error ? err.message : String(err) }),
    );
  });
  // Probes and scrapes are short: no keep-alive connection may hold up the exit.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, at, names)));
    server.listen({ port: at.port, host: at.host }, resolve);
  });
  const bound = server.address() as AddressInfo;
  const host = at.host === undefined ? '' : at.host.includes(':') ? `[${at.host}]` : at.host;
  return {
    address: `${host}:${bound.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: http.ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, { 'Content-Type': answer.type, 'Content-Length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

function listenError(err: NodeJS.ErrnoException, at: BindAddress, names: { what: string; flag: string }): CliError {
  const why =
    err.code === 'EADDRINUSE'
      ? 'the address is already in use'
      : err.code === 'EACCES'
        ? 'permission denied'
        : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND'
          ? 'no such address on this machine'
          : err.message;
  return new CliError(ExitCode.Usage, `cannot listen on ${at.text} for ${names.what}: ${why}`, {
    hint: `choose another address with ${names.flag}, or ${names.flag}=0 to turn ${names.what} off`,
    cause: err,
  });
}
