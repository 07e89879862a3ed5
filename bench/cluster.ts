// The benchmark's own cluster: a control plane with the Member CRD, and fast bulk creation of Members.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { type ControlPlane, startControlPlane } from '../test/harness/control-plane.js';
import { cli, sleep, timeProcess } from './lib.js';

export const GROUP = 'helloworld.apimeister.com';
export const CREATE_CONCURRENCY = 32;
const CREATE_ATTEMPTS = 10;

/** What the greeting and memory tests watch: one namespace (`-n`), or every namespace (`-A`). */
export type Scope = { namespace: string } | { allNamespaces: true };

/** The same flags select the scope for kubectl and for member-watch (after `watch`: -A is its own flag). */
export function scopeFlags(scope: Scope): string[] {
  return 'namespace' in scope ? ['-n', scope.namespace] : ['-A'];
}

export interface BenchCluster {
  readonly cp: ControlPlane;
  /** Global flags that point the CLI at this cluster. */
  readonly cliFlags: string[];
  newNamespace(prefix: string): Promise<string>;
  /** Creates members member-FIRST..member-(FIRST+count-1); onCreated gets each name once its POST answered 201. */
  /** `paddingBytes`: an annotation of that many bytes on each member, for objects as large as real ones get. */
  createMembers(
    namespace: string,
    count: number,
    opts?: { first?: number; onCreated?: (name: string) => void; paddingBytes?: number },
  ): Promise<void>;
  /** The raw watch URL, as curl would ask for it. */
  watchUrl(scope: Scope): string;
  close(): void;
}

interface Answer {
  status: number;
  body: string;
}

class Api {
  private readonly agent: https.Agent;

  constructor(private readonly cp: ControlPlane) {
    const ca = readFileSync(cp.caFile, 'utf8');
    this.agent = new https.Agent({ ca, keepAlive: true, maxSockets: CREATE_CONCURRENCY });
  }

  request(method: string, path: string, body: unknown): Promise<Answer> {
    const payload = JSON.stringify(body);
    const headers = {
      authorization: `Bearer ${this.cp.adminToken}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    };
    return new Promise((res, rej) => {
      const req = https.request(`${this.cp.server}${path}`, { method, headers, agent: this.agent }, (resp) => {
        let text = '';
        resp.setEncoding('utf8');
        resp.on('data', (chunk: string) => (text += chunk));
        resp.on('end', () => res({ status: resp.statusCode ?? 0, body: text }));
      });
      req.on('error', rej);
      req.end(payload);
    });
  }

  /**
   * An API server flooded by the process under test (the operator benchmarks' peer) may answer 429 or 5xx: the driver
   * tries again, as a client would, rather than end the run. 409 after such a retry: the first try did land.
   */
  async create(path: string, body: unknown): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const answer = await this.request('POST', path, body);
      if (answer.status === 201 || (attempt > 1 && answer.status === 409)) return;
      if ((answer.status !== 429 && answer.status < 500) || attempt === CREATE_ATTEMPTS) {
        throw new Error(`POST ${path}: HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
      }
      await sleep(100 * attempt);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

function memberBody(name: string, i: number, paddingBytes: number): object {
  const annotations = paddingBytes > 0 ? { 'bench.member-watch/padding': 'x'.repeat(paddingBytes) } : undefined;
  return { apiVersion: `${GROUP}/v1`, kind: 'Member', metadata: { name, annotations }, spec: { memberOf: `team-${i % 10}` } };
}

async function createAll(
  api: Api,
  namespace: string,
  range: { count: number; first: number; paddingBytes: number },
  onCreated: (name: string) => void,
): Promise<void> {
  const { count, first, paddingBytes } = range;
  const path = `/apis/${GROUP}/v1/namespaces/${namespace}/members`;
  let next = first;
  const worker = async (): Promise<void> => {
    while (next < first + count) {
      const i = next++;
      const name = `member-${i}`;
      await api.create(path, memberBody(name, i, paddingBytes));
      onCreated(name);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, count) }, worker));
}

export async function startBenchCluster(): Promise<BenchCluster> {
  // the operator benchmarks count requests per ServiceAccount in the audit log; the admin (everything else) is not logged
  const cp = await startControlPlane({ auditServiceAccounts: true });
  const cliFlags = ['--kubeconfig', cp.kubeconfig];
  try {
    await timeProcess(cli([...cliFlags, 'install-crd']));
  } catch (err) {
    await cp.stop();
    throw err;
  }
  const api = new Api(cp);
  return {
    cp,
    cliFlags,
    async newNamespace(prefix: string): Promise<string> {
      const name = `${prefix}-${randomBytes(3).toString('hex')}`;
      await api.create('/api/v1/namespaces', { metadata: { name } });
      return name;
    },
    createMembers: (namespace, count, { first = 0, onCreated = () => undefined, paddingBytes = 0 } = {}) =>
      createAll(api, namespace, { count, first, paddingBytes }, onCreated),
    watchUrl: (scope) =>
      `${cp.server}/apis/${GROUP}/v1/${'namespace' in scope ? `namespaces/${scope.namespace}/` : ''}members?watch=1&resourceVersion=0`,
    close: () => api.close(),
  };
}
