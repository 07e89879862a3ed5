import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { RunningCli } from './cli.js';
import type { Cluster } from './cluster.js';
import { ScheduledFaults } from './faults.js';
import type { Prng } from './prng.js';
import type { Replicas } from './replicas.js';

/**
 * Faults of one replica of a leader-elected client, or of its Lease:
 * sigkill: a replica (the leader, most of the time) killed with SIGKILL and started again after up to 3 s;
 * partition: the leader alone cut off through its own proxy, while the others are not: its bytes held (stall),
 * its requests let through but their answers held (deafen: writes land, the writer does not know), or its
 * connections cut and new ones never answered (blackhole), for up to a lease duration and a few seconds more;
 * lease: the Lease deleted (up to three times in a row, each time once it was created again), or taken by a
 * stranger that renews it for a few seconds and then goes silent;
 * sigstop: the leader frozen with SIGSTOP for up to a lease duration and a few seconds more, then SIGCONT.
 */
export type ReplicaFaultKind = 'sigkill' | 'partition' | 'lease' | 'sigstop';

export interface ReplicaFaultTargets<T extends { readonly cli: RunningCli }> {
  replicas: Replicas<T>;
  /** The slot of the replica that leads now, if one does. */
  leader(): number | undefined;
  cluster: Cluster;
  lease: { namespace: string; name: string };
  leaseDurationMs: number;
  retryPeriodMs: number;
}

const PARTITIONS = ['deafen', 'deafen', 'stall', 'blackhole'] as const;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ReplicaFaults<T extends { readonly cli: RunningCli }> extends ScheduledFaults<ReplicaFaultKind> {
  private strangers = 0;

  constructor(
    kind: ReplicaFaultKind,
    prng: Prng,
    private readonly targets: ReplicaFaultTargets<T>,
  ) {
    super(kind, prng);
  }

  inject(): Promise<void> {
    switch (this.kind) {
      case 'sigkill':
        return this.sigkill();
      case 'partition':
        return this.partition();
      case 'lease':
        return this.prng.chance(0.6) ? this.deleteLease() : this.stealLease();
      case 'sigstop':
        return this.sigstop();
    }
  }

  /** The leader most of the time (a kill mid-write is what may lose something), else any replica. */
  private victim(): { slot: number; role: string } {
    const leader = this.targets.leader();
    if (leader !== undefined && this.prng.chance(0.75)) return { slot: leader, role: 'the leader' };
    const slot = this.prng.int(0, this.targets.replicas.count - 1);
    return { slot, role: slot === leader ? 'the leader' : 'a standby' };
  }

  private async sigkill(): Promise<void> {
    const { slot, role } = this.victim();
    const down = this.prng.int(0, 3_000);
    await this.targets.replicas.kill(slot);
    await sleep(down);
    this.targets.replicas.restart(slot);
    this.log.push({ kind: 'sigkill', detail: `replica ${slot} (${role}) down ${down} ms` });
  }

  private async partition(): Promise<void> {
    const slot = this.targets.leader() ?? this.prng.int(0, this.targets.replicas.count - 1);
    const mode = this.prng.pick(PARTITIONS);
    const held = this.prng.int(1_000, this.targets.leaseDurationMs + 4_000);
    const proxy = this.targets.replicas.proxy(slot);
    proxy.setMode(mode);
    if (mode === 'blackhole') proxy.cutAll();
    await sleep(held);
    proxy.setMode('pass');
    this.log.push({ kind: 'partition', detail: `replica ${slot} ${mode} ${held} ms` });
  }

  private async sigstop(): Promise<void> {
    const { slot, role } = this.victim();
    const frozen = this.prng.int(500, this.targets.leaseDurationMs + 4_000);
    this.targets.replicas.freeze(slot);
    await sleep(frozen);
    this.targets.replicas.thaw(slot);
    this.log.push({ kind: 'sigstop', detail: `replica ${slot} (${role}) frozen ${frozen} ms` });
  }

  private get api(): CoordinationV1Api {
    return this.targets.cluster.kc.makeApiClient(CoordinationV1Api);
  }

  /**
   * Deleted one to three times in a row, each time while a replica leads (the moment that matters: a leader that
   * finds its Lease gone must stop acting before anyone else starts), the second and third once it is back.
   */
  private async deleteLease(): Promise<void> {
    const times = this.prng.int(1, 3);
    const done: string[] = [];
    for (let i = 0; i < times; i++) {
      if (i > 0 && !(await this.recreated())) break;
      const led = await this.someoneLeads();
      done.push(`${(await this.deleteOnce()) ? 'deleted' : 'deleted, but there was none'}${led ? '' : ' (nobody led)'}`);
    }
    this.log.push({ kind: 'lease', detail: done.join(', then ') });
  }

  /** Waits (a lease duration at most) until a replica leads; false if none does by then. */
  private async someoneLeads(): Promise<boolean> {
    const until = Date.now() + this.targets.leaseDurationMs;
    while (this.targets.leader() === undefined) {
      if (Date.now() > until) return false;
      await sleep(50);
    }
    return true;
  }

  private async deleteOnce(): Promise<boolean> {
    const { namespace, name } = this.targets.lease;
    return this.api.deleteNamespacedLease({ namespace, name }).then(
      () => true,
      (err: unknown) => {
        if ((err as { code?: number }).code === 404) return false;
        throw err;
      },
    );
  }

  /** Waits (a lease duration at most) until some replica has created the Lease again. */
  private async recreated(): Promise<boolean> {
    const { namespace, name } = this.targets.lease;
    const until = Date.now() + this.targets.leaseDurationMs;
    while (Date.now() < until) {
      if (
        await this.api.readNamespacedLease({ namespace, name }).then(
          () => true,
          () => false,
        )
      )
        return true;
      await sleep(100);
    }
    return false;
  }

  /**
   * A stranger takes the Lease and renews it every retry period for a while, then stops without a word. A write
   * that loses the race with the leader's renewal (409) is tried again at once.
   */
  private async stealLease(): Promise<void> {
    const stranger = `stranger-${++this.strangers}`;
    const holdMs = this.prng.int(500, 2 * this.targets.leaseDurationMs);
    const until = Date.now() + holdMs;
    let writes = 0;
    do {
      const took = await this.writeLease(stranger);
      if (took) writes += 1;
      await sleep(took ? this.targets.retryPeriodMs : 10);
    } while (Date.now() < until);
    this.log.push({ kind: 'lease', detail: `taken by ${stranger} for ${holdMs} ms (${writes} writes)` });
  }

  /** One write as the stranger, over whatever the Lease holds now; false when someone wrote first (409). */
  private async writeLease(holder: string): Promise<boolean> {
    const { namespace, name } = this.targets.lease;
    const api = this.api;
    const current = await api.readNamespacedLease({ namespace, name }).catch(() => undefined);
    const now = new V1MicroTime();
    const transitions = current?.spec?.leaseTransitions ?? 0;
    const spec = {
      holderIdentity: holder,
      leaseDurationSeconds: Math.ceil(this.targets.leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: current?.spec?.holderIdentity === holder ? transitions : transitions + 1,
    };
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace, name }, spec };
    try {
      if (current === undefined) await api.createNamespacedLease({ namespace, body });
      else
        await api.replaceNamespacedLease({
          namespace,
          name,
          body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } },
        });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 409) return false;
      throw err;
    }
  }
}
