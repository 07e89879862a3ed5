// kubectl and member-watch on the same kubeconfig, environment and flags, each asked to delete the same Member (one
// name per case, that exists nowhere); the API servers' audit logs say which server each request reached, as whom
// (impersonation included) and in which namespace, and what was answered.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { auditedRequests, type AuditedRequest, type AuditedUser } from './audit.js';
import { CLI_PATH, type CliResult } from './cli.js';
import type { ControlPlane } from './control-plane.js';
import { KUBECTL } from './deploy.js';
import { spawnPod } from './pod.js';

export type Tool = 'kubectl' | 'member-watch';
export const TOOLS: readonly Tool[] = ['kubectl', 'member-watch'];

const MEMBERS = 'members.helloworld.apimeister.com';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const RUN_TIMEOUT_MS = 60_000;

/** How one case is run by both tools: global flags, the whole environment, and whether inside a pod. */
export interface Invocation {
  args: string[];
  /** The environment, all of it: nothing leaks in from the test's own (no KUBECONFIG, proxy or pod variables). */
  env: Record<string, string>;
  pod?: PodInvocation | undefined;
}

export interface PodInvocation {
  /** The control plane the pod's service account and KUBERNETES_SERVICE_* belong to. */
  cp: ControlPlane;
  /** Names the pod's folder and its service account (created in SERVICE_ACCOUNT_NAMESPACE). */
  name: string;
  token: string;
  /** What the service-account folder's `namespace` file says. */
  namespaceFile: string;
}

/** Every pod's service account lives here, whatever its `namespace` file says. */
export const SERVICE_ACCOUNT_NAMESPACE = 'matrix-pods';

/** The command line of each tool: the same Member deleted, a missing one not an error. */
export function commandLine(tool: Tool, invocation: Invocation, probe: string): { file: string; args: string[] } {
  const { args } = invocation;
  if (tool === 'kubectl') return { file: KUBECTL, args: [...args, 'delete', MEMBERS, probe, '--ignore-not-found'] };
  return { file: process.execPath, args: [CLI_PATH, ...args, 'delete-member', probe, '--ignore-not-found'] };
}

export function runTool(tool: Tool, invocation: Invocation, probe: string): Promise<CliResult> {
  const { file, args } = commandLine(tool, invocation, probe);
  if (invocation.pod !== undefined) {
    const { cp, name, token, namespaceFile } = invocation.pod;
    // root without capabilities: the test's files stay readable, as a pod's mounted ones are to its uid
    return spawnPod(cp, [file, ...args], { name, namespace: namespaceFile, token, uid: 0, env: invocation.env }).done;
  }
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH, ...invocation.env }, timeout: RUN_TIMEOUT_MS }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, signal: (err?.signal as NodeJS.Signals | undefined) ?? null, stdout, stderr });
    });
  });
}

/** A Member name of its own for each case, so that its requests are told apart from every other case's. */
export function probeName(caseIndex: number): string {
  return `probe-${caseIndex}-${randomBytes(3).toString('hex')}`;
}

/** What the API servers saw of one tool in one case, each distinct request in words, sorted. */
export interface Seen {
  /** Requests for the case's Member: `A m7-a [matrix] as bob ns=ns-c 404`. */
  probe: string[];
  /** Its other requests (discovery), where the identity is the case's own: `A m7-weak 403`. */
  others: string[];
}

/** The user, and whom it impersonated: `m7-a [matrix] as bob [g1] {scopes=s1} uid=1`. */
function who(r: AuditedRequest): string {
  const user = r.user.username === undefined ? 'unauthenticated' : identity(r.user, false);
  return r.impersonatedUser === undefined ? user : `${user} as ${identity(r.impersonatedUser, true)}`;
}

/** The user name, groups (but system:authenticated) and extras; the uid only where a kubeconfig can choose it (as-uid). */
function identity(u: AuditedUser, withUid: boolean): string {
  const groups = (u.groups ?? []).filter((g) => g !== 'system:authenticated').sort();
  const extra = Object.entries(u.extra ?? {})
    // a bound token's id: the same token gives the same one, but it says nothing about the kubeconfig
    .filter(([key]) => key !== 'authentication.kubernetes.io/credential-id')
    .map(([k, v]) => `${k}=${v.join('+')}`)
    .sort();
  const uid = withUid && u.uid !== undefined ? ` uid=${u.uid}` : '';
  return `${u.username ?? '?'}${groups.length ? ` [${groups.join(',')}]` : ''}${extra.length ? ` {${extra.join(',')}}` : ''}${uid}`;
}

function toolOf(r: AuditedRequest): Tool | undefined {
  if (r.userAgent?.startsWith('kubectl/')) return 'kubectl';
  return r.userAgent?.startsWith('member-watch') ? 'member-watch' : undefined;
}

/**
 * Reads the audit logs once, after every case has run. A request belongs to a case by the name of its Member, or,
 * for the others, by a user name (or service account) only that case uses: `m7-` in `m7-a`.
 */
export function judge(servers: Array<{ name: string; auditLog: string }>): (tool: Tool, probe: string, caseId: string) => Seen {
  const events = servers.flatMap(({ name, auditLog }) => auditedRequests(auditLog).map((r) => ({ server: name, r })));
  return (tool, probe, caseId) => {
    const probeSeen = new Set<string>();
    const others = new Set<string>();
    const own = (u: AuditedUser | undefined): boolean =>
      u?.username !== undefined && (u.username.startsWith(`${caseId}-`) || u.username.endsWith(`:${caseId}-pod`));
    for (const { server, r } of events) {
      if (toolOf(r) !== tool) continue;
      if (r.objectRef?.name === probe)
        probeSeen.add(`${server} ${who(r)} ns=${r.objectRef.namespace ?? '-'} ${r.responseStatus?.code ?? '?'}`);
      else if (own(r.user)) others.add(`${server} ${who(r)} ${r.responseStatus?.code ?? '?'}`);
    }
    return { probe: [...probeSeen].sort(), others: [...others].sort() };
  };
}
