// Running a process as a pod would: no kubeconfig, the API server through KUBERNETES_SERVICE_HOST/PORT, a service
// account's token, CA and namespace in the service-account folder, an unprivileged uid, a read-only root filesystem.
import { chmodSync, copyFileSync, linkSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from './cluster.js';
import { type RunningCli, spawnProcess } from './cli.js';
import type { ControlPlane } from './control-plane.js';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The home of the image's user (distroless `nonroot`): absent here, so no ~/.kube/config can be found. */
const POD_HOME = '/home/nonroot';
const POD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A private mount namespace (unshare -m; needs root, as CI runs): a tmpfs over /run (= /var/run) holding only the
 * service-account folder, bound read-only from $1; then the root filesystem read-only, as readOnlyRootFilesystem
 * makes it; then the command under uid $2 with no capabilities and no privilege escalation, as the security context
 * asks. `mount -n` keeps /run/mount/utab of the host untouched. The process keeps the pid: sh and setpriv exec.
 */
const POD_SCRIPT = `set -e
sa=$1; uid=$2; shift 2
mount -n -t tmpfs -o size=1m,mode=0755 pod-run /run
mkdir -p ${SERVICE_ACCOUNT_DIR}
mount -n --bind "$sa" ${SERVICE_ACCOUNT_DIR}
mount -n -o remount,bind,ro ${SERVICE_ACCOUNT_DIR}
mount -n -o remount,bind,ro /
exec setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
`;

/**
 * This process's node, linked (or copied) into `dir` so that any uid can run it, as an image has its own: node may
 * live in a folder other uids cannot enter (CI's Node 24 is inside the clone). A hard link has the binary's own mode,
 * so it is used only when that lets everyone read and run it.
 */
export function nodeForAnyUid(dir: string): string {
  const node = join(dir, 'node');
  if ((statSync(process.execPath).mode & 0o005) === 0o005) {
    try {
      linkSync(process.execPath, node);
      return node;
    } catch {
      // another filesystem: copy it
    }
  }
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  return node;
}

/** Mints a token for a service account through the TokenRequest API, as the kubelet does for a projected volume. */
export async function requestToken(cluster: Cluster, namespace: string, serviceAccount: string): Promise<string> {
  const answer = await cluster.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = answer.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return token;
}

export interface PodOptions {
  /** Names the pod's folder; the test passes POD_NAME itself, through env, as the Deployment's downward API does. */
  name: string;
  /** The service account's namespace: the folder's `namespace` file. */
  namespace: string;
  token: string;
  uid: number;
  /** The container's environment (KUBERNETES_SERVICE_* and PATH/HOME are added). */
  env: Record<string, string>;
  /** KUBERNETES_SERVICE_PORT: the API server's own port, or a proxy's in front of it. */
  port?: number;
}

function serviceAccountFolder(cp: ControlPlane, opts: PodOptions): string {
  // inside the control plane's folder, so it goes when the control plane stops, also after a crash
  const dir = join(cp.dir, `pod-${opts.name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), opts.token);
  copyFileSync(cp.caFile, join(dir, 'ca.crt'));
  writeFileSync(join(dir, 'namespace'), opts.namespace);
  // the kubelet's default mode for a projected service-account volume: readable by the container's uid
  for (const file of ['token', 'ca.crt', 'namespace']) chmodSync(join(dir, file), 0o644);
  chmodSync(dir, 0o755);
  return dir;
}

/** Starts `command` (an absolute executable and its arguments) as a pod's container would run it. */
export function spawnPod(cp: ControlPlane, command: string[], opts: PodOptions): RunningCli {
  const [file, ...args] = command;
  if (file === undefined || !file.startsWith('/')) throw new Error(`spawnPod wants an absolute executable, got ${String(file)}`);
  const folder = serviceAccountFolder(cp, opts);
  const port = String(opts.port ?? new URL(cp.server).port);
  // the variables the kubelet sets for the `kubernetes` service; the serving cert is valid for 127.0.0.1
  const env = {
    PATH: POD_PATH,
    HOME: POD_HOME,
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: port,
    KUBERNETES_SERVICE_PORT_HTTPS: port,
    KUBERNETES_PORT: `tcp://127.0.0.1:${port}`,
    ...opts.env,
  };
  return spawnProcess(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', POD_SCRIPT, 'pod', folder, String(opts.uid), file, ...args],
    env,
  );
}
