import type { ControlPlane } from './control-plane.js';
import type { EtcdHistory } from './etcd-history.js';
import type { Prng } from './prng.js';
import type { ProxyMode, TcpProxy } from './tcp-proxy.js';

/**
 * kill: kube-apiserver SIGKILLed and restarted (its watch cache restarts at the current revision, so a resumed
 * watch gets 410), the watchers kept away until the churn has gone on a little after the restart; cut: every connection through the proxy destroyed, new ones sometimes refused for a moment;
 * stall: the proxy holds all bytes for a while, losing none; compaction: the watchers cut off while etcd's
 * history is compacted past them (with --watch-cache=false the resume gets 410 from etcd).
 */
export type FaultKind = 'kill' | 'cut' | 'stall' | 'compaction';

export interface FaultRecord<K extends string = FaultKind> {
  kind: K;
  /** What exactly happened (durations), for the report. */
  detail: string;
}

/** How far a churn has got: operations done, and a promise for a count to come. */
export interface Progress {
  readonly done: number;
  reached(count: number): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Faults of one kind at moments drawn from a seeded generator, each written down with what it did. */
export abstract class ScheduledFaults<K extends string> {
  readonly log: FaultRecord<K>[] = [];

  constructor(
    readonly kind: K,
    protected readonly prng: Prng,
  ) {}

  /**
   * `count` faults during a churn, each after a random stretch of live churn (30 to 80 % of `stretch` operations)
   * counted from when the clients were back from the previous one (`recovered()`), so that every fault meets
   * live clients and is followed by churn they see live, however long a fault takes to heal.
   */
  async during(churn: Progress, stretch: number, count: number, recovered: (since: number) => Promise<void>): Promise<void> {
    for (let i = 0; i < count; i++) {
      await churn.reached(churn.done + Math.round(stretch * (0.3 + 0.5 * this.prng.next())));
      // The clients may be cut off for the rest of a compaction or kill until the churn went on a little.
      await this.inject(() => churn.reached(churn.done + this.prng.int(20, 80)));
      await recovered(Date.now());
    }
  }

  /** One fault; `meanwhile` resolves once the churn has gone on a little, for faults that last until then. */
  abstract inject(meanwhile: () => Promise<void>): Promise<void>;
}

/** Injects one kind of fault through proxies (every client's, all at once) or on the control plane. */
export class FaultInjector extends ScheduledFaults<FaultKind> {
  constructor(
    kind: FaultKind,
    prng: Prng,
    private readonly targets: { cp: ControlPlane; proxies?: readonly TcpProxy[]; truth?: EtcdHistory | undefined },
  ) {
    super(kind, prng);
  }

  inject(meanwhile: () => Promise<void>): Promise<void> {
    switch (this.kind) {
      case 'kill':
        return this.kill(meanwhile);
      case 'cut':
        return this.cut();
      case 'stall':
        return this.stall();
      case 'compaction':
        return this.compaction(meanwhile);
    }
  }

  /**
   * Whether changes happen between the restart and a watcher's relist would otherwise depend on the watcher's
   * backoff: the proxy keeps it away until they have, so that the relist always has something to make up.
   */
  private async kill(meanwhile: () => Promise<void>): Promise<void> {
    const proxies = this.proxies();
    const down = this.prng.int(0, 2_000);
    setMode(proxies, 'refuse');
    await this.targets.cp.killApiserver();
    await sleep(down);
    await this.targets.cp.startApiserver();
    await meanwhile();
    setMode(proxies, 'pass');
    this.log.push({ kind: 'kill', detail: `down ${down} ms` });
  }

  private async cut(): Promise<void> {
    const proxies = this.proxies();
    const refused = this.prng.chance(0.5) ? this.prng.int(100, 2_000) : 0;
    if (refused > 0) setMode(proxies, 'refuse');
    for (const proxy of proxies) proxy.cutAll();
    await sleep(refused);
    setMode(proxies, 'pass');
    this.log.push({ kind: 'cut', detail: refused > 0 ? `refused ${refused} ms` : 'reconnect at once' });
  }

  private async stall(): Promise<void> {
    const proxies = this.proxies();
    const held = this.prng.int(1_000, 8_000);
    setMode(proxies, 'stall');
    await sleep(held);
    setMode(proxies, 'pass');
    this.log.push({ kind: 'stall', detail: `held ${held} ms` });
  }

  /** Cut off while the history moves on, then compacted past where the watchers were. */
  private async compaction(meanwhile: () => Promise<void>): Promise<void> {
    const proxies = this.proxies();
    const truth = this.need(this.targets.truth, 'the etcd history');
    setMode(proxies, 'refuse');
    for (const proxy of proxies) proxy.cutAll();
    await meanwhile();
    const revision = await truth.compactBehind();
    setMode(proxies, 'pass');
    this.log.push({ kind: 'compaction', detail: `compacted at ${revision}` });
  }

  private proxies(): readonly TcpProxy[] {
    const proxies = this.targets.proxies ?? [];
    if (proxies.length === 0) throw new Error(`a ${this.kind} fault needs a proxy`);
    return proxies;
  }

  private need<T>(target: T | undefined, what: string): T {
    if (target === undefined) throw new Error(`a ${this.kind} fault needs ${what}`);
    return target;
  }
}

function setMode(proxies: readonly TcpProxy[], mode: ProxyMode): void {
  for (const proxy of proxies) proxy.setMode(mode);
}
