// A control plane for the suite, as a folder to use as KUBEBUILDER_ASSETS, printed as the last line of stdout:
//   npm run --silent control-plane -- 1.37   kube-apiserver and kube-controller-manager built from this folder's
//                                            Go module (once per machine), etcd and etcdctl 3.5
//   npm run --silent control-plane -- 1.20   the 1.20.2 apiserver and etcd 3.4 that ../shared/control-plane unpacks
// Progress goes to stderr. The build is cached in ~/.cache/kubebuilder-assets/VERSION under a key of everything it
// is made of, and lands by a rename: a build that is killed leaves no folder that looks finished.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODULE_DIR = dirname(fileURLToPath(import.meta.url));
const SHARED = sharedControlPlane();
const ETCD_DIR = join(SHARED, 'etcd-3.5');
const MAINS = ['kube-apiserver', 'kube-controller-manager'];
const BINARIES = [...MAINS, 'etcd', 'etcdctl'];
const KEY_FILE = '.build-key';

/** A failure the user can act on: one line, no stack trace. */
class BuildError extends Error {}

function fail(message: string): never {
  throw new BuildError(message);
}

/** ../shared/control-plane beside the clone, or beside the main checkout when this is a git worktree elsewhere. */
function sharedControlPlane(): string {
  const beside = resolve(MODULE_DIR, '..', '..', '..', 'shared', 'control-plane');
  if (existsSync(beside)) return beside;
  const gitDir = spawnSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: MODULE_DIR, encoding: 'utf8' });
  return gitDir.status === 0 ? resolve(gitDir.stdout.trim(), '..', '..', 'shared', 'control-plane') : beside;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { cwd: MODULE_DIR, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${String(r.status ?? r.signal)})`);
  return r.stdout;
}

/** The Kubernetes release the go.mod requires, e.g. v1.37.2. */
function moduleVersion(): string {
  const goMod = readFileSync(join(MODULE_DIR, 'go.mod'), 'utf8');
  const version = /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)\s*$/m.exec(goMod)?.[1];
  if (version === undefined) fail(`${join(MODULE_DIR, 'go.mod')} requires no k8s.io/kubernetes version`);
  return version;
}

/**
 * The -X variables upstream's hack/lib/version.sh sets, for both packages that report a version (/version and
 * --version read component-base; client-go's user agent its own). buildDate is the release's commit time from the
 * module proxy, so the same go.mod builds the same binaries. gitCommit and gitTreeState stay unset, as
 * version.sh leaves them when it is not run in a git checkout: a module download carries no commit.
 */
function ldflags(version: string, releaseTime: string): string {
  const [major = '', minor = ''] = version.slice(1).split('.');
  const vars = { gitVersion: version, gitMajor: major, gitMinor: minor, buildDate: releaseTime.replace(/\.\d+Z$/, 'Z') };
  const x = Object.entries(vars).flatMap(([name, value]) =>
    ['k8s.io/client-go/pkg/version', 'k8s.io/component-base/version'].map((pkg) => `-X '${pkg}.${name}=${value}'`),
  );
  return ['-s', '-w', ...x].join(' ');
}

function releaseTime(version: string): string {
  const info = JSON.parse(run('go', ['list', '-m', '-json', `k8s.io/kubernetes@${version}`])) as { Time?: string };
  if (info.Time === undefined) fail(`the module proxy gave no release time for k8s.io/kubernetes ${version}`);
  return info.Time;
}

/** Everything the folder is made of: a change to any of it means a rebuild. */
function buildKey(flags: string): string {
  const hash = createHash('sha256');
  // by contents and names within the module, not by where the clone is: every clone on a machine shares one build
  const inputs = ['go.mod', 'go.sum', ...MAINS.map((m) => join(m, 'main.go'))];
  for (const name of inputs)
    hash
      .update(`${name}\0`)
      .update(readFileSync(join(MODULE_DIR, name)))
      .update('\0');
  hash.update(readFileSync(join(ETCD_DIR, 'SHA256SUMS')));
  hash.update(run('go', ['env', 'GOVERSION'])).update(flags);
  return hash.digest('hex');
}

function isComplete(folder: string, key: string): boolean {
  const keyFile = join(folder, KEY_FILE);
  return existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key && BINARIES.every((b) => existsSync(join(folder, b)));
}

function unpackEtcd(into: string): void {
  for (const line of readFileSync(join(ETCD_DIR, 'SHA256SUMS'), 'utf8').split('\n').filter(Boolean)) {
    const [sum, name] = line.split(/\s+/);
    if (sum === undefined || name === undefined) fail(`unreadable line in ${ETCD_DIR}/SHA256SUMS: ${line}`);
    const r = spawnSync('xz', ['-dc', join(ETCD_DIR, `${name}.xz`)], { maxBuffer: 1 << 28 });
    if (r.error) fail(`cannot run xz (apt-get install xz-utils): ${r.error.message}`);
    if (r.status !== 0) fail(`xz could not unpack ${ETCD_DIR}/${name}.xz: ${r.stderr.toString().trim()}`);
    const actual = createHash('sha256').update(r.stdout).digest('hex');
    if (actual !== sum) fail(`${ETCD_DIR}/${name}.xz unpacks to sha256 ${actual}, not ${sum} as SHA256SUMS says`);
    writeFileSync(join(into, name), r.stdout, { mode: 0o755 });
  }
}

/** Work folders of builds whose process is gone (killed): they never count as done, and take disk. */
function removeAbandoned(root: string, prefix: string): void {
  for (const entry of readdirSync(root)) {
    const pid = Number(entry.startsWith(prefix) ? entry.slice(prefix.length).split('-')[0] : NaN);
    if (Number.isInteger(pid) && !isAlive(pid)) rmSync(join(root, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function build(folder: string, version: string, flags: string, key: string): void {
  const root = dirname(folder);
  const prefix = `.${version.slice(1)}-building-`;
  removeAbandoned(root, prefix);
  // named after this process, so that the next run can tell a killed build's folder from a running one's
  const work = mkdtempSync(join(root, `${prefix}${process.pid}-`));
  try {
    chmodSync(work, 0o755);
    console.error(`building kube-apiserver and kube-controller-manager ${version} from Go modules into ${folder}`);
    console.error('(once per machine: about 10 minutes on 2 idle CPUs with empty Go caches, under a minute with warm ones)');
    const started = Date.now();
    const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly -buildvcs=false' };
    run('go', ['build', '-trimpath', '-ldflags', flags, '-o', `${work}/`, ...MAINS.map((m) => `./${m}`)], env);
    unpackEtcd(work);
    writeFileSync(join(work, KEY_FILE), key);
    // a build that ran beside this one and finished first is as good as this one
    if (!isComplete(folder, key)) replaceFolder(work, folder);
    console.error(`built in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The finished folder takes the place of an outdated one. */
function replaceFolder(work: string, folder: string): void {
  if (existsSync(folder)) {
    const old = `${work}-old`;
    renameSync(folder, old);
    rmSync(old, { recursive: true, force: true });
  }
  renameSync(work, folder);
}

function cacheRoot(): string {
  return join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'kubebuilder-assets');
}

function builtFolder(wanted: string): string {
  const version = moduleVersion();
  if (!`${version}.`.startsWith(`v${wanted}.`)) fail(`${MODULE_DIR}/go.mod builds Kubernetes ${version}, not ${wanted}`);
  const flags = ldflags(version, releaseTime(version));
  const key = buildKey(flags);
  const folder = join(cacheRoot(), version.slice(1));
  mkdirSync(dirname(folder), { recursive: true });
  if (!isComplete(folder, key)) build(folder, version, flags, key);
  return folder;
}

function sharedFolder(): string {
  const lines = run(join(SHARED, 'install'), []).trim().split('\n');
  return lines[lines.length - 1] ?? fail(`${SHARED}/install printed no folder`);
}

function folderFor(wanted: string): string {
  if (/^1\.20(\.2)?$/.test(wanted)) return sharedFolder();
  if (/^1\.37(\.\d+)?$/.test(wanted)) return builtFolder(wanted);
  return fail(`which control plane? 1.20 (the oldest the suite supports) or 1.37 (the newest), not "${wanted}"`);
}

try {
  console.log(folderFor(process.argv[2] ?? ''));
} catch (err) {
  if (!(err instanceof BuildError)) throw err;
  console.error(`error: ${err.message}`);
  process.exitCode = 1;
}
