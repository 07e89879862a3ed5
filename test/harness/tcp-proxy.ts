import net from 'node:net';

/**
 * pass: forwards; refuse: resets new connections; blackhole: swallows everything (a silent, half-open peer);
 * trickle: a slow link; stall: holds everything, losing nothing, until the mode changes (a link that stops and
 * recovers, as TCP does through a short outage); deafen: requests go through, answers are held as in a stall (a
 * client whose writes land but who hears nothing back, the worst moment of a partition for a writer).
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | 'trickle' | 'stall' | 'deafen';

/** A slow link: this many bytes, then a pause, in both directions (about 3 KB/s). */
const TRICKLE_BYTES = 64;
const TRICKLE_PAUSE_MS = 20;

export interface TcpProxy {
  readonly port: number;
  cutAll(): void;
  setMode(mode: ProxyMode): void;
  readonly connections: number;
  /** Bytes that went through in trickle mode: proof that the slow path was taken. */
  readonly trickled: number;
  /** Chunks held back in stall or deafen mode: proof that a stall met traffic. */
  readonly stalled: number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
  /** Bytes still dripping in trickle mode: a close or end from one side waits for them, as a slow link would. */
  dripping: Set<Promise<void>>;
  /** Chunks held in stall or deafen mode, each with the side it came from: delivered in order when it ends. */
  held: Array<() => void>;
}

class Proxy implements TcpProxy {
  private readonly pairs = new Set<Pair>();
  private mode: ProxyMode = 'pass';
  private accepted = 0;
  private trickledBytes = 0;
  private heldChunks = 0;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  get connections(): number {
    return this.accepted;
  }

  get trickled(): number {
    return this.trickledBytes;
  }

  get stalled(): number {
    return this.heldChunks;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode !== 'stall' && mode !== 'deafen') for (const pair of this.pairs) for (const release of pair.held.splice(0)) release();
  }

  cutAll(): void {
    for (const pair of this.pairs) destroyPair(pair);
    this.pairs.clear();
  }

  close(): Promise<void> {
    this.closed ??= new Promise((r) => {
      this.server.close(() => r());
      this.cutAll();
    });
    return this.closed;
  }

  private accept(client: net.Socket): void {
    this.accepted += 1;
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      // RST rather than FIN: closest to a refused or reset connection as a client sees it
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined, dripping: new Set(), held: [] };
    this.pairs.add(pair);
    const forget = (): void => {
      void afterDrips(pair, () => {
        destroyPair(pair);
        this.pairs.delete(pair);
      });
    };
    client.once('close', forget);
    // a connection accepted while blackholed never reaches the target: a silent, half-open peer
    if (this.mode !== 'blackhole') this.connectUpstream(pair, forget);
    else client.on('data', () => undefined);
  }

  private connectUpstream(pair: Pair, forget: () => void): void {
    const upstream = net.connect(this.targetPort, this.targetHost);
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.once('close', forget);
    this.forward(pair, pair.client, upstream);
    this.forward(pair, upstream, pair.client);
  }

  private forward(pair: Pair, from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => void this.relay(pair, from, to, chunk));
    from.once('end', () => {
      if (this.mode !== 'blackhole') void afterDrips(pair, () => to.end());
    });
  }

  /** Passes one chunk on as the mode says; true when it paused `from` and will resume it itself. */
  private relay(pair: Pair, from: net.Socket, to: net.Socket, chunk: Buffer): boolean {
    if (this.mode === 'blackhole') return false;
    if (this.mode === 'stall' || (this.mode === 'deafen' && from === pair.upstream)) {
      // Paused, so nothing overtakes the held chunk; reading resumes once it is delivered.
      from.pause();
      this.heldChunks += 1;
      pair.held.push(() => {
        if (!this.relay(pair, from, to, chunk)) from.resume();
      });
      return true;
    }
    if (this.mode === 'trickle') {
      // Paused while it drips, so later chunks cannot overtake this one.
      from.pause();
      const dripped = this.drip(chunk, to).then(() => {
        pair.dripping.delete(dripped);
        from.resume();
      });
      pair.dripping.add(dripped);
      return true;
    }
    if (to.write(chunk)) return false;
    from.pause();
    to.once('drain', () => from.resume());
    return true;
  }

  private async drip(chunk: Buffer, to: net.Socket): Promise<void> {
    for (let at = 0; at < chunk.length && !to.destroyed; at += TRICKLE_BYTES) {
      to.write(chunk.subarray(at, at + TRICKLE_BYTES));
      this.trickledBytes += Math.min(TRICKLE_BYTES, chunk.length - at);
      await new Promise((r) => setTimeout(r, TRICKLE_PAUSE_MS));
    }
  }
}

async function afterDrips(pair: Pair, then: () => void): Promise<void> {
  await Promise.all(pair.dripping);
  then();
}

function destroyPair(pair: Pair): void {
  pair.client.destroy();
  pair.upstream?.destroy();
}

function listen(server: net.Server): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', rej);
      res((server.address() as net.AddressInfo).port);
    });
  });
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const server = net.createServer();
  const port = await listen(server);
  return new Proxy(server, port, targetPort, targetHost);
}
