import { randomBytes } from 'node:crypto';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane.js';

export interface Cluster {
  kc: KubeConfig;
  createNamespace(prefix: string): Promise<string>;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  ext: ApiextensionsV1Api;
}

export function clusterFor(cp: ControlPlane): Cluster {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const createNamespace = async (prefix: string): Promise<string> => {
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name } } });
    return name;
  };
  return {
    kc,
    createNamespace,
    core,
    custom: kc.makeApiClient(CustomObjectsApi),
    ext: kc.makeApiClient(ApiextensionsV1Api),
  };
}
