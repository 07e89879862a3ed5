import { randomBytes } from 'node:crypto';
import { ApiextensionsV1Api, type ApiType, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { ApiConstructor } from '@kubernetes/client-node/dist/config.js';
import type { ControlPlane } from './control-plane.js';

export interface Cluster {
  kc: KubeConfig;
  createNamespace(prefix: string): Promise<string>;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  ext: ApiextensionsV1Api;
  /** Any other client-node API, asking again as `core` does. */
  api<T extends ApiType>(kind: ApiConstructor<T>): T;
}

const MAX_RETRIES_AFTER = 10;

/** The seconds a 429 or 5xx answer says to wait before asking again, if it says so. */
function retryAfterSeconds(err: unknown): number | undefined {
  const { code, headers } = err as { code?: unknown; headers?: Record<string, string> };
  if (typeof code !== 'number' || (code !== 429 && code < 500)) return undefined;
  const seconds = Number(headers?.['retry-after']);
  return headers?.['retry-after'] !== undefined && Number.isFinite(seconds) ? seconds : undefined;
}

/**
 * client-node gives up on an answer that says when to ask again, where client-go (kubectl, controllers) asks again
 * up to 10 times: a current API server answers 429 "storage is (re)initializing" for a moment after a CRD changed
 * or a restart. The suite's own calls wait as client-go would, so that a test fails on what it tests, not on that.
 */
function askingAgain<T extends object>(api: T): T {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        for (let retries = 0; ; retries++) {
          try {
            return (await value.apply(target, args)) as unknown;
          } catch (err) {
            const seconds = retryAfterSeconds(err);
            if (seconds === undefined || retries === MAX_RETRIES_AFTER) throw err;
            await new Promise((r) => setTimeout(r, seconds * 1000));
          }
        }
      };
    },
  });
}

export function clusterFor(cp: ControlPlane): Cluster {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const api = <T extends ApiType>(kind: ApiConstructor<T>): T => askingAgain(kc.makeApiClient(kind));
  const core = api(CoreV1Api);
  const createNamespace = async (prefix: string): Promise<string> => {
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name } } });
    return name;
  };
  return { kc, createNamespace, core, custom: api(CustomObjectsApi), ext: api(ApiextensionsV1Api), api };
}
