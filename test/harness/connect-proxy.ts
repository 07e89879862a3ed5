import http from 'node:http';
import net from 'node:net';

/**
 * An HTTP proxy that only tunnels (CONNECT), as corporate proxies in front of API servers do. Every tunnel goes
 * to `targetPort` on loopback whatever host was asked for, so a kubeconfig can name a host that does not resolve
 * (which proves the proxy, not the client, did the connecting).
 */
export interface ConnectProxy {
  readonly url: string;
  /** The `host:port` of each CONNECT request, in order. */
  readonly tunnels: string[];
  /** Answer CONNECT with this status instead of tunnelling (e.g. 407); undefined: tunnel. */
  refuseWith(status: number | undefined): void;
  close(): Promise<void>;
}

/** With `user`, a tunnel is opened only for a CONNECT that carries `Proxy-Authorization: Basic` for user:password. */
export async function startConnectProxy(targetPort: number, auth?: { user: string; password: string }): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  let refusal: number | undefined;
  const expected = auth === undefined ? undefined : `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket) => {
    tunnels.push(req.url ?? '');
    sockets.add(client);
    client.on('error', () => undefined);
    client.once('close', () => sockets.delete(client));
    const status = refusal ?? (expected !== undefined && req.headers['proxy-authorization'] !== expected ? 407 : undefined);
    if (status !== undefined) return void client.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\n\r\n`);
    const upstream = net.connect(targetPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client).pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    refuseWith: (status) => void (refusal = status),
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
