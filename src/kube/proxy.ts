import type { RequestOptions } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { usageError } from '../errors.js';
import type { ClusterConfig } from './kubeconfig.js';
import { NetworkError } from './failures.js';

/** The proxy requests go through, and where that was said (for messages). */
export interface ProxyChoice {
  url: URL;
  from: string;
}

/**
 * The proxy as kubectl (Go's net/http) chooses it: the cluster's proxy-url first; otherwise HTTPS_PROXY
 * (https_proxy) for an https server, HTTP_PROXY (http_proxy) for an http one, unless NO_PROXY (no_proxy)
 * matches the server, or the server is localhost or a loopback address, which are never proxied.
 */
export function chooseProxy(cluster: ClusterConfig & { server: string }, source: string, env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  if (cluster.proxyUrl)
    return { url: parseProxy(cluster.proxyUrl, `proxy-url of cluster "${cluster.name}" in ${source}`), from: 'proxy-url' };
  const server = new URL(cluster.server);
  const names = server.protocol === 'https:' ? ['HTTPS_PROXY', 'https_proxy'] : ['HTTP_PROXY', 'http_proxy'];
  const name = names.find((n) => env[n]);
  const value = name === undefined ? undefined : env[name];
  if (name === undefined || !value) return undefined;
  const port = server.port || (server.protocol === 'https:' ? '443' : '80');
  if (!useProxy(server.hostname, port, env['NO_PROXY'] || env['no_proxy'] || '')) return undefined;
  return { url: parseProxy(value, name), from: name };
}

const PROXY_SCHEMES = ['http:', 'https:', 'socks5:', 'socks5h:'];

/** As Go reads it: without a scheme, http:// is meant. */
function parseProxy(value: string, field: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    url = undefined;
  }
  if (url !== undefined && PROXY_SCHEMES.includes(url.protocol) && url.hostname !== '') return url;
  throw usageError(
    `${field} is not a proxy address: ${JSON.stringify(redact(value))}`,
    'use http://HOST:PORT, https://HOST:PORT or socks5://HOST:PORT',
  );
}

/** A proxy address without the user and password it may carry. */
export function redact(value: string): string {
  return value.replace(/\/\/[^/@]*@/, '//');
}

function useProxy(host: string, port: string, noProxy: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || isLoopback(bare)) return false;
  return !noProxy
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .some((entry) => entry !== '' && matchesNoProxy(entry, bare, port));
}

function isLoopback(ip: string): boolean {
  if (net.isIPv4(ip)) return ip.startsWith('127.');
  return net.isIPv6(ip) && (ip === '::1' || ip.startsWith('::ffff:127.'));
}

/** Go's httpproxy rules: `*`, an IP or CIDR, or a domain (`.example.com`, `*.example.com`, `example.com`: it and its sub-domains), each with an optional port. */
function matchesNoProxy(entry: string, host: string, port: string): boolean {
  if (entry === '*') return true;
  if (entry.includes('/')) return inCidr(host, entry);
  const { name, port: entryPort } = splitHostPort(entry);
  if (entryPort !== undefined && entryPort !== port) return false;
  if (net.isIP(name)) return net.isIP(host) !== 0 && name === host;
  const domain = name.startsWith('*.') ? name.slice(1) : name;
  return domain.startsWith('.') ? host.endsWith(domain) : host === domain || host.endsWith(`.${domain}`);
}

function splitHostPort(entry: string): { name: string; port: string | undefined } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { name: bracketed[1] ?? '', port: bracketed[2] };
  if (net.isIPv6(entry)) return { name: entry, port: undefined };
  const colon = entry.lastIndexOf(':');
  return colon === -1 ? { name: entry, port: undefined } : { name: entry.slice(0, colon), port: entry.slice(colon + 1) };
}

function inCidr(host: string, cidr: string): boolean {
  const [network = '', bits = ''] = cidr.split('/');
  const family = net.isIPv4(network) ? 'ipv4' : 'ipv6';
  if (net.isIP(host) === 0 || net.isIP(network) === 0 || !/^\d+$/.test(bits)) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(network, Number(bits), family);
  } catch {
    return false;
  }
  return list.check(host, net.isIPv4(host) ? 'ipv4' : 'ipv6');
}

type Callback = (err: Error | null, socket: Duplex) => void;

/**
 * An https.Agent that reaches the API server through an HTTP CONNECT tunnel (kubectl's way with an http or https
 * proxy), keeping TLS end to end with the API server and connections alive between requests.
 */
export class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: RequestOptions, callback?: Callback): undefined {
    const target = `${net.isIPv6(options.host ?? '') ? `[${options.host ?? ''}]` : (options.host ?? '')}:${String(options.port ?? 443)}`;
    const proxyPort = Number(this.proxy.port || (this.proxy.protocol === 'https:' ? 443 : 80));
    const socket =
      this.proxy.protocol === 'https:'
        ? tls.connect({
            host: this.proxy.hostname,
            port: proxyPort,
            servername: net.isIP(this.proxy.hostname) ? undefined : this.proxy.hostname,
          })
        : net.connect(proxyPort, this.proxy.hostname);
    const where = `the proxy at ${this.proxy.host}`;
    const fail = (err: Error): void => {
      socket.destroy();
      callback?.(err instanceof NetworkError ? err : new NetworkError(codeOf(err), `cannot reach ${where}: ${err.message}`), socket);
    };
    socket.once('error', fail);
    socket.once(this.proxy.protocol === 'https:' ? 'secureConnect' : 'connect', () => socket.write(this.connectRequest(target)));
    readConnectAnswer(socket, where, (err) => {
      if (err) return fail(err);
      socket.off('error', fail);
      callback?.(null, tls.connect({ ...(options as tls.ConnectionOptions), host: options.host ?? undefined, port: undefined, socket }));
    });
    return undefined;
  }

  private connectRequest(target: string): string {
    const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
    if (this.proxy.username || this.proxy.password) {
      const user = `${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`;
      lines.push(`Proxy-Authorization: Basic ${Buffer.from(user).toString('base64')}`);
    }
    return `${lines.join('\r\n')}\r\n\r\n`;
  }
}

/** Reads the proxy's answer to CONNECT, up to the blank line; anything but 200 ends the attempt. */
function readConnectAnswer(socket: net.Socket, where: string, done: (err?: Error) => void): void {
  let head = '';
  const onData = (chunk: Buffer): void => {
    head += chunk.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    socket.off('data', onData);
    socket.off('end', onEnd);
    const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head)?.[1] ?? 0);
    if (status === 200) return done();
    const transient = status === 502 || status === 503 || status === 504;
    done(
      new NetworkError(
        transient ? 'PROXY_UNAVAILABLE' : 'PROXY_REFUSED',
        `${where} refused the tunnel: HTTP ${status || 'garbage'}${status === 407 ? ' (proxy authentication required)' : ''}`,
      ),
    );
  };
  const onEnd = (): void => done(new NetworkError('PROXY_CLOSED', `${where} closed the connection instead of opening a tunnel`));
  socket.on('data', onData);
  socket.once('end', onEnd);
}

function codeOf(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? 'UNKNOWN';
}
