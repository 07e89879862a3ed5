import type { RunningCli } from './cli.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** One process of a replica: the first, or one started after the previous was killed. */
export interface Incarnation<T> {
  readonly slot: number;
  readonly process: T;
  /** Date.now() when the harness sent it SIGKILL; undefined while it runs or once it stopped on its own. */
  killedAt: number | undefined;
}

/** Starts one process whose API server is `server` (a URL): the replica's own proxy. */
export type SpawnReplica<T> = (slot: number, server: string) => T;

/**
 * Several copies of one long-running client (operator replicas), each reaching kube-apiserver through its own TCP
 * proxy, so that one can be cut off, stalled or deafened while the others are not. A replica killed and started
 * again keeps its proxy; every incarnation is kept, with its output, for the checks after the run.
 */
export class Replicas<T extends { readonly cli: RunningCli }> {
  readonly incarnations: Incarnation<T>[] = [];
  private readonly live: Incarnation<T>[] = [];

  private constructor(
    readonly proxies: readonly TcpProxy[],
    private readonly spawn: SpawnReplica<T>,
  ) {}

  static async start<T extends { readonly cli: RunningCli }>(count: number, apiPort: number, spawn: SpawnReplica<T>): Promise<Replicas<T>> {
    const proxies = await Promise.all(Array.from({ length: count }, () => startTcpProxy(apiPort)));
    const replicas = new Replicas(proxies, spawn);
    for (let slot = 0; slot < count; slot++) replicas.launch(slot);
    return replicas;
  }

  get count(): number {
    return this.proxies.length;
  }

  /** The process running in `slot` now. */
  current(slot: number): T {
    return this.at(slot).process;
  }

  proxy(slot: number): TcpProxy {
    const proxy = this.proxies[slot];
    if (proxy === undefined) throw new Error(`no replica ${slot}`);
    return proxy;
  }

  /** SIGKILL, as an OOM kill or a node failure would; resolves once it is gone. */
  async kill(slot: number): Promise<void> {
    const incarnation = this.at(slot);
    incarnation.killedAt = Date.now();
    incarnation.process.cli.kill('SIGKILL');
    await incarnation.process.cli.done.catch(() => undefined);
  }

  /** A new process in the slot, through the same proxy. */
  restart(slot: number): T {
    return this.launch(slot).process;
  }

  /** SIGSTOP: the process keeps its connections and answers nothing, its timers frozen. */
  freeze(slot: number): void {
    this.at(slot).process.cli.kill('SIGSTOP');
  }

  thaw(slot: number): void {
    this.at(slot).process.cli.kill('SIGCONT');
  }

  /** SIGTERM to every live process (thawed first); resolves once all exited, SIGKILLed after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    for (const { process } of this.live) {
      process.cli.kill('SIGCONT');
      process.cli.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      for (const { process } of this.live) process.cli.kill('SIGKILL');
    }, graceMs);
    await Promise.all(this.live.map(({ process }) => process.cli.done.catch(() => undefined)));
    clearTimeout(timer);
  }

  /** Whatever their state: for `finally` blocks. */
  async close(): Promise<void> {
    for (const { process } of this.live) process.cli.kill('SIGKILL');
    await Promise.all(this.live.map(({ process }) => process.cli.done.catch(() => undefined)));
    await Promise.all(this.proxies.map((p) => p.close()));
  }

  private at(slot: number): Incarnation<T> {
    const incarnation = this.live[slot];
    if (incarnation === undefined) throw new Error(`no replica ${slot}`);
    return incarnation;
  }

  private launch(slot: number): Incarnation<T> {
    const process = this.spawn(slot, `https://127.0.0.1:${this.proxy(slot).port}`);
    const incarnation: Incarnation<T> = { slot, process, killedAt: undefined };
    this.live[slot] = incarnation;
    this.incarnations.push(incarnation);
    return incarnation;
  }
}
