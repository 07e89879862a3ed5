import { after, before } from 'node:test';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { type CliResult, runCli, type RunningCli, spawnCli } from '../harness/cli.js';
import { type Cluster, clusterFor } from '../harness/cluster.js';
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from '../harness/control-plane.js';
import { EtcdHistory } from '../harness/etcd-history.js';

export const GROUP = 'helloworld.apimeister.com';

export interface TestEnv {
  cp: ControlPlane;
  cluster: Cluster;
  /** Runs the built CLI against the test control plane as the admin user. */
  cli(
    args: string[],
    opts?: { input?: string; kubeconfig?: string; env?: Record<string, string | undefined>; timeoutMs?: number },
  ): Promise<CliResult>;
  spawn(args: string[], opts?: { kubeconfig?: string; env?: Record<string, string | undefined> }): RunningCli;
  createMember(namespace: string, name: string, team?: string): Promise<void>;
  setTeam(namespace: string, name: string, team: string | undefined): Promise<void>;
  /** Sets one label: a change that leaves the team as it is. */
  labelMember(namespace: string, name: string, key: string, value: string): Promise<void>;
  deleteMember(namespace: string, name: string): Promise<void>;
  getMember(namespace: string, name: string): Promise<Member | undefined>;
}

export interface Member {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    managedFields?: Array<{ manager: string }>;
  };
  spec?: { memberOf?: string };
}

/**
 * One control plane per test file, started before its tests and stopped after them, failures included.
 * The environment is filled in by the time tests run.
 */
export function useControlPlane(options: ControlPlaneOptions & { installCrd?: boolean } = {}): TestEnv {
  const env = {} as TestEnv;
  before(async () => {
    const cp = await startControlPlane(options);
    const cluster = clusterFor(cp);
    const withConfig = (args: string[], kubeconfig?: string): string[] => ['--kubeconfig', kubeconfig ?? cp.kubeconfig, ...args];
    Object.assign(env, {
      cp,
      cluster,
      cli: (args, opts = {}) => runCli(withConfig(args, opts.kubeconfig), opts),
      spawn: (args, opts = {}) => spawnCli(withConfig(args, opts.kubeconfig), opts),
      ...memberOps(cluster),
    } satisfies Partial<TestEnv>);
    if (options.installCrd !== false) {
      const installed = await env.cli(['install-crd']);
      if (installed.code !== 0) throw new Error(`install-crd failed: ${installed.stderr}`);
    }
  });
  after(async () => {
    await env.cp?.stop();
  });
  return env;
}

function memberOps(cluster: Cluster): Pick<TestEnv, 'createMember' | 'setTeam' | 'labelMember' | 'deleteMember' | 'getMember'> {
  const base = { group: GROUP, version: 'v1', plural: 'members' };
  return {
    async createMember(namespace, name, team) {
      await cluster.custom.createNamespacedCustomObject({
        ...base,
        namespace,
        body: { apiVersion: `${GROUP}/v1`, kind: 'Member', metadata: { name }, spec: team === undefined ? {} : { memberOf: team } },
      });
    },
    // Patches without a precondition, as `kubectl patch` sends them: an operator writing the member's finalizer or
    // status meanwhile is no conflict.
    async setTeam(namespace, name, team) {
      const spec = team === undefined ? {} : { memberOf: team };
      await cluster.custom.patchNamespacedCustomObject({ ...base, namespace, name, body: [{ op: 'add', path: '/spec', value: spec }] });
    },
    async labelMember(namespace, name, key, value) {
      const current = (await cluster.custom.getNamespacedCustomObject({ ...base, namespace, name })) as Member;
      const labels = { ...current.metadata.labels, [key]: value };
      await cluster.custom.patchNamespacedCustomObject({
        ...base,
        namespace,
        name,
        body: [{ op: 'add', path: '/metadata/labels', value: labels }],
      });
    },
    async deleteMember(namespace, name) {
      await cluster.custom.deleteNamespacedCustomObject({ ...base, namespace, name });
    },
    async getMember(namespace, name) {
      try {
        return (await cluster.custom.getNamespacedCustomObject({ ...base, namespace, name })) as Member;
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
  };
}

/** A control plane for a describe block, with etcd's history observed from before its first member. */
export function useTruth(options: { watchCache?: boolean } = {}): { env: TestEnv; truth: () => EtcdHistory } {
  const env = useControlPlane(options);
  let truth: EtcdHistory | undefined;
  before(async () => {
    truth = await EtcdHistory.start(env.cp);
  });
  after(async () => truth?.stop());
  return {
    env,
    truth: () => {
      if (truth === undefined) throw new Error('the etcd history did not start');
      return truth;
    },
  };
}

/** Lines of text output, without the trailing empty one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

export function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = async (): Promise<void> => {
      const value = await check();
      if (value !== undefined && value !== false) return resolve(value);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(() => void tick().catch(reject), 100);
    };
    void tick().catch(reject);
  });
}

/**
 * The Member CRD with no schema to speak of (v1 insists on one): what the original operator's schemaless CRD is
 * through apiextensions.k8s.io/v1, the only version API servers serve from 1.22 on.
 */
export function schemalessCrd(resourceVersion?: string): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `members.${GROUP}`, resourceVersion },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: 'Member', listKind: 'MemberList', plural: 'members', singular: 'member' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
        },
      ],
    },
  };
}
