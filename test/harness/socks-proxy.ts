import net from 'node:net';

/**
 * A SOCKS5 proxy (no authentication, CONNECT only), as `proxy-url: socks5://...` expects. Like the CONNECT proxy,
 * it connects every request to `targetPort` on loopback whatever host was asked for, so a kubeconfig can name a host
 * that does not resolve.
 */
export interface SocksProxy {
  readonly url: string;
  /** The `host:port` of each CONNECT, in order. */
  readonly connects: string[];
  close(): Promise<void>;
}

const VERSION = 5;
const NO_AUTHENTICATION = 0;
const CONNECT = 1;
const [IPV4, DOMAIN, IPV6] = [1, 3, 4];

export async function startSocksProxy(targetPort: number): Promise<SocksProxy> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    client.once('close', () => sockets.delete(client));
    let buffered = Buffer.alloc(0);
    let greeted = false;
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!greeted) {
        // VER NMETHODS METHODS...
        if (buffered.length < 2 || buffered.length < 2 + (buffered[1] ?? 0)) return;
        buffered = buffered.subarray(2 + (buffered[1] ?? 0));
        greeted = true;
        client.write(Buffer.from([VERSION, NO_AUTHENTICATION]));
      }
      const target = parseRequest(buffered);
      if (target === undefined) return;
      client.off('data', onData);
      connects.push(target);
      const upstream = net.connect(targetPort, '127.0.0.1', () => {
        // succeeded, bound to 0.0.0.0:0
        client.write(Buffer.from([VERSION, 0, 0, IPV4, 0, 0, 0, 0, 0, 0]));
        upstream.pipe(client).pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `socks5://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connects,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** VER CMD RSV ATYP ADDR PORT: the target as `host:port`, or undefined while incomplete (or not a CONNECT). */
function parseRequest(b: Buffer): string | undefined {
  if (b.length < 5 || b[1] !== CONNECT) return undefined;
  const type = b[3];
  const [hostLength, host] =
    type === IPV4
      ? [4, [...b.subarray(4, 8)].join('.')]
      : type === DOMAIN
        ? [1 + (b[4] ?? 0), b.subarray(5, 5 + (b[4] ?? 0)).toString('latin1')]
        : type === IPV6
          ? [16, `[${b.subarray(4, 20).toString('hex')}]`]
          : [0, ''];
  if (b.length < 4 + hostLength + 2) return undefined;
  return `${host}:${b.readUInt16BE(4 + hostLength)}`;
}
