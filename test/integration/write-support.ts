import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestEnv } from './support.js';

export const REF = 'member.helloworld.apimeister.com/';
const API = 'apiVersion: helloworld.apimeister.com/v1\nkind: Member\n';

export interface DocSpec {
  name: string;
  namespace?: string;
  team?: string;
  labels?: Record<string, string>;
}

/** One Member document as a user writes it (YAML, values quoted). */
export function memberDoc(d: DocSpec): string {
  const meta = [`  name: ${d.name}`];
  if (d.namespace !== undefined) meta.push(`  namespace: ${d.namespace}`);
  const labels = Object.entries(d.labels ?? {});
  if (labels.length > 0) meta.push('  labels:', ...labels.map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`));
  const spec = d.team === undefined ? '' : `spec:\n  memberOf: ${JSON.stringify(d.team)}\n`;
  return `${API}metadata:\n${meta.join('\n')}\n${spec}`;
}

let written = 0;
export function writeFile(env: TestEnv, name: string, text: string): string {
  const file = join(env.cp.dir, `write-${++written}-${name}`);
  writeFileSync(file, text);
  return file;
}

export function membersFile(env: TestEnv, docs: DocSpec[]): string {
  return writeFile(env, 'members.yaml', docs.map(memberDoc).join('---\n'));
}

/** kubectl (v1.32 on the test machines) against the test control plane as admin: for histories member-watch did not write. */
export function kubectl(env: TestEnv, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', ['--kubeconfig', env.cp.kubeconfig, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    child.stdin?.end(input ?? '');
  });
}

export interface Held {
  team: string | undefined;
  labels: Record<string, string>;
  uid: string;
}

/** Every member of the namespace: team, labels, uid. */
export async function membersIn(env: TestEnv, namespace: string): Promise<Map<string, Held>> {
  const list = (await env.cluster.custom.listNamespacedCustomObject({
    group: 'helloworld.apimeister.com',
    version: 'v1',
    plural: 'members',
    namespace,
  })) as { items: Array<{ metadata: { name: string; uid: string; labels?: Record<string, string> }; spec?: { memberOf?: string } }> };
  return new Map(
    list.items.map((m) => [m.metadata.name, { team: m.spec?.memberOf, labels: m.metadata.labels ?? {}, uid: m.metadata.uid }]),
  );
}

/** `applied 7 of 10 members` / `deleted 3 of 5 members` from a summary, and the unknown count when it names them all. */
export function tallyFrom(stderr: string, verb: 'applied' | 'deleted'): { done: number; total: number } | undefined {
  const match = new RegExp(`${verb} (\\d+) of (\\d+) members?`).exec(stderr);
  return match ? { done: Number(match[1]), total: Number(match[2]) } : undefined;
}

/** How many members a summary lists after `label: ` (`a, b and 7 more` is 9); 0 when it lists none. */
export function listedCount(stderr: string, label: string): number {
  const match = new RegExp(`${label.replace(/[()]/g, '\\$&')}: ([^;\n]*)`).exec(stderr);
  if (!match) return 0;
  const [, list = ''] = match;
  const more = / and (\d+) more$/.exec(list);
  return list.replace(/ and \d+ more$/, '').split(', ').length + Number(more?.[1] ?? 0);
}

/** Binds a Role with these rules to the user `nobody` in the namespace. */
export async function bindNobody(env: TestEnv, namespace: string, rules: object[]): Promise<void> {
  const rbac = 'rbac.authorization.k8s.io';
  const role = { apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { name: 'nobody', namespace }, rules };
  const binding = {
    apiVersion: `${rbac}/v1`,
    kind: 'RoleBinding',
    metadata: { name: 'nobody', namespace },
    roleRef: { apiGroup: rbac, kind: 'Role', name: 'nobody' },
    subjects: [{ apiGroup: rbac, kind: 'User', name: 'nobody' }],
  };
  await kubectl(env, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [role, binding] }));
}

/** A member held by the finalizer example.com/hold: deleting it leaves it terminating until `releaseHeld`. */
export async function createHeld(env: TestEnv, namespace: string, name = 'held'): Promise<void> {
  await env.cluster.custom.createNamespacedCustomObject({
    group: 'helloworld.apimeister.com',
    version: 'v1',
    plural: 'members',
    namespace,
    body: { apiVersion: 'helloworld.apimeister.com/v1', kind: 'Member', metadata: { name, finalizers: ['example.com/hold'] }, spec: {} },
  });
}

export async function releaseHeld(env: TestEnv, namespace: string, name = 'held'): Promise<void> {
  await kubectl(env, ['patch', 'member', name, '-n', namespace, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
}
