import { resolveConfig, type ConnectionFlags, type ResolvedConfig } from './config.js';
import { type Endpoint, explainFailure, type Operation } from './errors.js';
import { ApiError, type ApiRequest, type DebugLog, KubeClient } from './http.js';

/**
 * A connection to one cluster as one user, shared by every subcommand: the resolved kubeconfig,
 * the HTTP client, and the translation of failures into messages and exit codes.
 */
export class Kube {
  constructor(
    readonly http: KubeClient,
    readonly config: ResolvedConfig,
  ) {}

  get namespace(): string {
    return this.config.namespace;
  }

  get endpoint(): Endpoint {
    return {
      server: this.config.cluster.server,
      contextName: this.config.contextName,
      userName: this.config.user?.name,
      impersonating: this.config.user?.impersonate,
    };
  }

  /** One JSON request; any failure comes back as a CliError that names the operation. */
  async call<T>(op: Operation, req: ApiRequest): Promise<T> {
    try {
      return await this.http.json<T>(req);
    } catch (err) {
      throw this.explain(err, op);
    }
  }

  /** GET one object; undefined when that object does not exist (a missing resource type is still an error). */
  async find<T>(op: Operation, path: string): Promise<T | undefined> {
    try {
      return await this.http.json<T>({ method: 'GET', path });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.objectName !== undefined) return undefined;
      throw this.explain(err, op);
    }
  }

  explain(err: unknown, op: Operation): ReturnType<typeof explainFailure> {
    return explainFailure(err, op, this.endpoint);
  }

  /**
   * The same cluster and user over connections of their own: requests that must not queue behind many others
   * (a leader's Lease renewals behind its bulk writes, when every pooled socket is busy) get sockets nobody else holds.
   */
  withOwnConnections(): Kube {
    return new Kube(this.http.withOwnConnections(), this.config);
  }

  close(): void {
    this.http.close();
  }
}

export function connect(flags: ConnectionFlags, debug?: DebugLog): Kube {
  const config = resolveConfig(flags);
  return new Kube(new KubeClient(config, debug), config);
}
