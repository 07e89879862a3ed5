import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ControlPlaneOptions {
  watchCache?: boolean;
  extraApiserverArgs?: string[];
  /** Record every request made by a service account (not the admin's) in `auditLog`: who asked what, and the answer. */
  auditServiceAccounts?: boolean;
  /** Record every request but the harness's own (admin, the API server's loopback, a controller manager): who asked, as whom, where, and the answer. */
  auditEveryoneButAdmin?: boolean;
  /** More users of the token file, besides admin and nobody. */
  tokenUsers?: TokenUser[];
}

/** A line of the API server's token file: the token, the user name it authenticates, the user's groups. */
export interface TokenUser {
  token: string;
  name: string;
  groups?: string[];
}

export interface ControlPlane {
  readonly dir: string;
  readonly server: string;
  readonly caFile: string;
  readonly adminToken: string;
  readonly nobodyToken: string;
  readonly kubeconfig: string;
  readonly etcdEndpoint: string;
  /** Whether a kube-controller-manager runs beside the API server (the assets have one: 1.37, not 1.20). */
  readonly controllerManager: boolean;
  /** JSON lines of audit events, written only with `auditServiceAccounts` or `auditEveryoneButAdmin` (see audit.ts). */
  readonly auditLog: string;
  kubeconfigFor(opts: { server?: string; namespace?: string; context?: string }): string;
  stopApiserver(): Promise<void>;
  /** SIGKILL, as a crash or an OOM kill would: no graceful shutdown, requests in flight cut. */
  killApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen API server keeps its connections open and answers nothing. */
  freezeApiserver(): void;
  thawApiserver(): void;
  stopEtcd(): Promise<void>;
  startEtcd(): Promise<void>;
  /** Compacts etcd's history up to `revision` (default: the current one). */
  compact(revision?: number): Promise<void>;
  /** etcd's current revision. */
  etcdRevision(): Promise<number>;
  /** A long-running etcdctl (a watch), killed with the test process if it is still running. */
  spawnEtcdctl(args: string[]): ChildProcess;
  stop(): Promise<void>;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 100;
const KILL_AFTER_MS = 10_000;

// --- last-resort cleanup: a crashing test must never leak processes or temp dirs ---

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let hooksInstalled = false;

function isRunning(child: ChildProcess): boolean {
  // no pid means the spawn itself failed, and no 'exit' will ever come
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function killAllSync(): void {
  for (const child of liveChildren) signal(child, 'SIGKILL');
  liveChildren.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function onFatalSignal(sig: NodeJS.Signals): void {
  killAllSync();
  // re-raise so the process still dies the way the sender asked
  process.removeListener(sig, onFatalSignal);
  process.kill(process.pid, sig);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllSync);
  process.once('SIGINT', onFatalSignal);
  process.once('SIGTERM', onFatalSignal);
}

/** Registers a child so it is SIGKILLed if this process exits while the child still runs. */
export function killOnExit(child: ChildProcess): void {
  installHooks();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Registers a folder to be removed if this process exits before its owner removed it. */
export function removeOnExit(dir: string): void {
  installHooks();
  liveDirs.add(dir);
}

// --- small utilities ---

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function freePorts(count: number): Promise<number[]> {
  // all listeners stay open until every port is known, so the ports are distinct
  const servers: net.Server[] = [];
  const listenOne = (): Promise<number> =>
    new Promise((res, rej) => {
      const s = net.createServer();
      servers.push(s);
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => res((s.address() as net.AddressInfo).port));
    });
  const all = Promise.all(Array.from({ length: count }, listenOne));
  const closeAll = (): Promise<void[]> => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return all.then(
    async (ports) => {
      await closeAll();
      return ports;
    },
    async (err: unknown) => {
      await closeAll();
      throw err;
    },
  );
}

function logTail(file: string, lines = 40): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** The folder of kube-apiserver, etcd and etcdctl: KUBEBUILDER_ASSETS, or what the shared installer unpacks. */
export function resolveAssets(): string {
  const fromEnv = process.env['KUBEBUILDER_ASSETS'];
  if (fromEnv) return fromEnv;
  return installAssets();
}

let cachedAssets: string | undefined;

function installAssets(): string {
  if (cachedAssets) return cachedAssets;
  const script = resolve(REPO_ROOT, '..', 'shared', 'control-plane', 'install');
  // synchronous on purpose: it runs once per test process and takes under a second when cached
  const r = spawnSync(script, [], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run ${script} (set KUBEBUILDER_ASSETS instead): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${script} failed (${String(r.status)}): ${r.stderr}`);
  const folder = r.stdout.trim().split('\n').pop();
  if (!folder) throw new Error(`${script} printed no folder`);
  cachedAssets = folder;
  return folder;
}

export interface AssetsVersion {
  /** As the binary says it: `v1.37.2`. */
  gitVersion: string;
  minor: number;
}

const versions = new Map<string, AssetsVersion>();

/** What `kube-apiserver --version` says, read once per folder: known before any server starts, when tests are defined. */
export function assetsVersion(assets = resolveAssets()): AssetsVersion {
  const known = versions.get(assets);
  if (known) return known;
  const said = execFileSync(join(assets, 'kube-apiserver'), ['--version'], { encoding: 'utf8' });
  const match = /v1\.(\d+)\.\d+\S*/.exec(said);
  if (!match) throw new Error(`${join(assets, 'kube-apiserver')} --version said ${said}`);
  const version = { gitVersion: match[0], minor: Number(match[1]) };
  versions.set(assets, version);
  return version;
}

function runText(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    execFile(file, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else res({ stdout, stderr });
    });
  });
}

// --- processes ---

interface ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  child: ChildProcess | undefined;
}

function spawnLogged(proc: ManagedProcess, bin: string, args: string[]): ChildProcess {
  if (!existsSync(bin)) throw new Error(`${bin} not found: is KUBEBUILDER_ASSETS right?`);
  const fd = openSync(proc.logFile, 'a');
  try {
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    killOnExit(child);
    // a spawn failure (ENOENT) would otherwise be an unhandled 'error' event
    child.once('error', () => undefined);
    proc.child = child;
    return child;
  } finally {
    closeSync(fd);
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (!isRunning(child)) return;
  try {
    process.kill(child.pid as number, sig);
  } catch {
    // exited between the check and the kill
  }
}

async function terminate(proc: ManagedProcess): Promise<void> {
  const child = proc.child;
  proc.child = undefined;
  if (!child || !isRunning(child)) return;
  const exited = waitForExit(child);
  signal(child, 'SIGTERM');
  // A frozen process handles SIGTERM only once it runs again.
  signal(child, 'SIGCONT');
  const timer = setTimeout(() => signal(child, 'SIGKILL'), KILL_AFTER_MS);
  await exited;
  clearTimeout(timer);
}

async function pollUntil(proc: ManagedProcess, probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const child = proc.child;
  while (Date.now() < deadline) {
    if (!child || !isRunning(child)) {
      throw new Error(
        `${proc.name} exited (code ${String(child?.exitCode)}, signal ${String(child?.signalCode)}) before ${what}; log tail:\n${logTail(proc.logFile)}`,
      );
    }
    if (await probe()) return;
    await sleep(POLL_MS);
  }
  throw new Error(`${proc.name} not ${what} after ${READY_TIMEOUT_MS} ms; log tail:\n${logTail(proc.logFile)}`);
}

export function httpStatus(url: string): Promise<number> {
  return new Promise((res) => {
    const req = http.get(url, { timeout: 2000 }, (resp) => {
      resp.resume();
      res(resp.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(0));
  });
}

function httpsStatus(url: string, ca: string, token: string): Promise<number> {
  return new Promise((res) => {
    const req = https.get(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000, agent: false }, (resp) => {
      resp.resume();
      res(resp.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(0));
  });
}

// --- files ---

interface Layout {
  dir: string;
  certDir: string;
  caFile: string;
  etcdData: string;
  saKey: string;
  tokenFile: string;
  kubeconfig: string;
  controllerManagerKubeconfig: string;
  auditPolicy: string;
  auditLog: string;
}

function makeLayout(): Layout {
  const dir = mkdtempSync(join(tmpdir(), 'member-watch-cp-'));
  removeOnExit(dir);
  const certDir = join(dir, 'certs');
  return {
    dir,
    certDir,
    caFile: join(certDir, 'apiserver.crt'),
    etcdData: join(dir, 'etcd-data'),
    saKey: join(dir, 'sa.key'),
    tokenFile: join(dir, 'tokens.csv'),
    kubeconfig: join(dir, 'kubeconfig'),
    controllerManagerKubeconfig: join(dir, 'kube-controller-manager.kubeconfig'),
    auditPolicy: join(dir, 'audit-policy.yaml'),
    auditLog: join(dir, 'audit.log'),
  };
}

function writeServiceAccountKey(file: string): void {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeFileSync(file, privateKey, { mode: 0o600 });
}

// RequestReceived says nothing the later stages do not; a watch's ResponseStarted shows it while it is still open.
// The controller manager's controllers are service accounts of kube-system: not what a test audits.
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    userGroups: ['system:serviceaccounts:kube-system']
  - level: Metadata
    userGroups: ['system:serviceaccounts']
  - level: None
`;

// The controller manager's controllers act as service accounts of kube-system (--use-service-account-credentials).
const AUDIT_EVERYONE_BUT_ADMIN = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: [admin, 'system:apiserver', 'system:kube-controller-manager']
  - level: None
    userGroups: ['system:serviceaccounts:kube-system']
  - level: Metadata
`;

interface Tokens {
  admin: string;
  nobody: string;
  /** The user the bootstrap RBAC policy binds to the system:kube-controller-manager role. */
  controllerManager: string;
}

function writeTokenFile(file: string, tokens: Tokens, more: TokenUser[]): void {
  const lines = [
    `${tokens.admin},admin,admin-uid,"system:masters"`,
    `${tokens.nobody},nobody,nobody-uid`,
    `${tokens.controllerManager},system:kube-controller-manager,kube-controller-manager-uid`,
  ];
  for (const u of more) lines.push(`${u.token},${u.name},${u.name}-uid${u.groups?.length ? `,"${u.groups.join(',')}"` : ''}`);
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
}

interface KubeconfigSpec {
  server: string;
  caFile: string;
  /** Token by user name, each user with a context of the same name; the first is the current context by default. */
  users: Record<string, string>;
  namespace?: string | undefined;
  context?: string | undefined;
}

function kubeconfigText(s: KubeconfigSpec): string {
  const ctx = (user: string): Record<string, string> =>
    s.namespace === undefined ? { cluster: 'test', user } : { cluster: 'test', user, namespace: s.namespace };
  const names = Object.keys(s.users);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': s.context ?? names[0],
    clusters: [{ name: 'test', cluster: { server: s.server, 'certificate-authority': s.caFile } }],
    users: Object.entries(s.users).map(([name, token]) => ({ name, user: { token } })),
    contexts: names.map((name) => ({ name, context: ctx(name) })),
    preferences: {},
  };
  // JSON is valid YAML, and avoids hand-quoting
  return JSON.stringify(config, null, 2) + '\n';
}

// --- argument lists ---

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
}

function etcdArgs(layout: Layout, ports: Ports): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    '--name=default',
    `--data-dir=${layout.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    // a single loopback member: the default 1 s election timeout only delays every (re)start
    '--heartbeat-interval=10',
    '--election-timeout=100',
    '--logger=zap',
    '--log-outputs=stderr',
  ];
}

function apiserverArgs(layout: Layout, ports: Ports, opts: ControlPlaneOptions, version: AssetsVersion): string[] {
  const args = [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    // the `kubernetes` Service's endpoints would be this loopback address, which 1.20 complains of and 1.37 refuses
    '--endpoint-reconciler-type=none',
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${layout.certDir}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--service-account-issuer=https://kubernetes.default.svc',
    // TokenRequest (POST serviceaccounts/NAME/token) needs the issuer and the signing key; the audience every
    // token is minted for and checked against is spelled out rather than left to 1.20's default (the issuer)
    '--api-audiences=https://kubernetes.default.svc',
    `--service-account-key-file=${layout.saKey}`,
    `--service-account-signing-key-file=${layout.saKey}`,
    '--disable-admission-plugins=ServiceAccount',
    `--token-auth-file=${layout.tokenFile}`,
    '--authorization-mode=RBAC',
    // one test client needs no fairness queues; fewer bootstrap objects and controllers to go wrong
    '--enable-priority-and-fairness=false',
    '--profiling=false',
  ];
  // Since 1.27 a stopping server can end its watches itself; without this it waits for their clients to go (1.20
  // always does) until it is killed.
  if (version.minor >= 27) args.push('--shutdown-watch-termination-grace-period=2s');
  if (opts.watchCache === false) args.push('--watch-cache=false');
  if (opts.auditServiceAccounts === true || opts.auditEveryoneButAdmin === true) {
    // 0 would mean the log library's default, a new file every 100 MB: readers follow one file
    args.push(`--audit-policy-file=${layout.auditPolicy}`, `--audit-log-path=${layout.auditLog}`, '--audit-log-maxsize=1000000');
  }
  return args.concat(opts.extraApiserverArgs ?? []);
}

function controllerManagerArgs(layout: Layout): string[] {
  return [
    `--kubeconfig=${layout.controllerManagerKubeconfig}`,
    // what a namespace's deletion, ownerReferences and service accounts need, as on a real cluster; nothing that
    // waits for nodes or pods, which the suite has none of
    '--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller',
    // each controller acts as its own service account with the role the bootstrap policy gives it, as kubeadm sets it up
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${layout.saKey}`,
    `--root-ca-file=${layout.caFile}`,
    // a single instance: no Lease to wait for at start, and no exit when the API server is down for longer than a lease
    '--leader-elect=false',
    // nobody asks its health or metrics: no port, no certificates of its own
    '--secure-port=0',
    '--profiling=false',
  ];
}

// --- the control plane ---

class RunningControlPlane implements ControlPlane {
  readonly server: string;
  readonly etcdEndpoint: string;
  private readonly etcd: ManagedProcess;
  private readonly apiserver: ManagedProcess;
  private readonly controllerManagerProcess: ManagedProcess;
  readonly controllerManager: boolean;
  private kubeconfigCount = 0;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly layout: Layout,
    private readonly assets: string,
    private readonly ports: Ports,
    private readonly opts: ControlPlaneOptions,
    private readonly tokens: Tokens,
  ) {
    this.server = `https://127.0.0.1:${ports.apiserver}`;
    this.etcdEndpoint = `http://127.0.0.1:${ports.etcdClient}`;
    this.etcd = { name: 'etcd', logFile: join(layout.dir, 'etcd.log'), child: undefined };
    this.apiserver = {
      name: 'kube-apiserver',
      logFile: join(layout.dir, 'kube-apiserver.log'),
      child: undefined,
    };
    this.controllerManagerProcess = {
      name: 'kube-controller-manager',
      logFile: join(layout.dir, 'kube-controller-manager.log'),
      child: undefined,
    };
    this.controllerManager = existsSync(join(assets, 'kube-controller-manager'));
  }

  get adminToken(): string {
    return this.tokens.admin;
  }

  get nobodyToken(): string {
    return this.tokens.nobody;
  }

  get dir(): string {
    return this.layout.dir;
  }

  get caFile(): string {
    return this.layout.caFile;
  }

  get kubeconfig(): string {
    return this.layout.kubeconfig;
  }

  get auditLog(): string {
    return this.layout.auditLog;
  }

  writeKubeconfigs(): void {
    writeFileSync(this.layout.kubeconfig, kubeconfigText(this.kubeconfigSpec()), { mode: 0o600 });
    const controllerManager = { ...this.kubeconfigSpec(), users: { 'kube-controller-manager': this.tokens.controllerManager } };
    writeFileSync(this.layout.controllerManagerKubeconfig, kubeconfigText(controllerManager), { mode: 0o600 });
  }

  kubeconfigFor(opts: { server?: string; namespace?: string; context?: string }): string {
    this.kubeconfigCount += 1;
    const file = join(this.layout.dir, `kubeconfig-${this.kubeconfigCount}`);
    const spec = { ...this.kubeconfigSpec(), ...definedOnly(opts) };
    writeFileSync(file, kubeconfigText(spec), { mode: 0o600 });
    return file;
  }

  async startEtcd(): Promise<void> {
    this.ensureNotRunning(this.etcd);
    spawnLogged(this.etcd, join(this.assets, 'etcd'), etcdArgs(this.layout, this.ports));
    const url = `${this.etcdEndpoint}/health`;
    await pollUntil(this.etcd, async () => (await httpStatus(url)) === 200, 'healthy');
  }

  stopEtcd(): Promise<void> {
    return terminate(this.etcd);
  }

  async startApiserver(): Promise<void> {
    this.ensureNotRunning(this.apiserver);
    const args = apiserverArgs(this.layout, this.ports, this.opts, assetsVersion(this.assets));
    spawnLogged(this.apiserver, join(this.assets, 'kube-apiserver'), args);
    await pollUntil(this.apiserver, () => this.readyz(), 'ready');
  }

  stopApiserver(): Promise<void> {
    return terminate(this.apiserver);
  }

  /**
   * Started once, after the API server, and left running when a test stops or restarts the API server: it
   * reconnects as it would on a real cluster. Ready when its service-account controller has made the `default`
   * namespace's service account, which also proves its own credentials work.
   */
  async startControllerManager(): Promise<void> {
    this.ensureNotRunning(this.controllerManagerProcess);
    spawnLogged(this.controllerManagerProcess, join(this.assets, 'kube-controller-manager'), controllerManagerArgs(this.layout));
    const ca = readFileSync(this.layout.caFile, 'utf8');
    const url = `${this.server}/api/v1/namespaces/default/serviceaccounts/default`;
    await pollUntil(this.controllerManagerProcess, async () => (await httpsStatus(url, ca, this.tokens.admin)) === 200, 'ready');
  }

  freezeApiserver(): void {
    if (this.apiserver.child) signal(this.apiserver.child, 'SIGSTOP');
  }

  thawApiserver(): void {
    if (this.apiserver.child) signal(this.apiserver.child, 'SIGCONT');
  }

  async killApiserver(): Promise<void> {
    const child = this.apiserver.child;
    this.apiserver.child = undefined;
    if (!child || !isRunning(child)) return;
    const exited = waitForExit(child);
    signal(child, 'SIGKILL');
    await exited;
  }

  async compact(revision?: number): Promise<void> {
    revision ??= await this.etcdRevision();
    try {
      await this.etcdctl(['compact', String(revision)]);
    } catch (err) {
      // compacting twice at the same revision is not a failure for a test
      if (!String(err).includes('required revision has been compacted')) throw err;
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    await terminate(this.controllerManagerProcess);
    await terminate(this.apiserver);
    await terminate(this.etcd);
    rmSync(this.layout.dir, { recursive: true, force: true });
    liveDirs.delete(this.layout.dir);
  }

  private kubeconfigSpec(): KubeconfigSpec {
    return {
      server: this.server,
      caFile: this.layout.caFile,
      users: { admin: this.tokens.admin, nobody: this.tokens.nobody },
    };
  }

  private ensureNotRunning(proc: ManagedProcess): void {
    if (this.stopping) throw new Error('control plane already stopped');
    if (proc.child && isRunning(proc.child)) throw new Error(`${proc.name} is already running`);
  }

  private async readyz(): Promise<boolean> {
    // the serving cert appears only after the apiserver generated it
    if (!existsSync(this.layout.caFile)) return false;
    const ca = readFileSync(this.layout.caFile, 'utf8');
    return (await httpsStatus(`${this.server}/readyz`, ca, this.adminToken)) === 200;
  }

  spawnEtcdctl(args: string[]): ChildProcess {
    const child = spawn(join(this.assets, 'etcdctl'), [`--endpoints=${this.etcdEndpoint}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnExit(child);
    child.once('error', () => undefined);
    return child;
  }

  async etcdRevision(): Promise<number> {
    const { stdout } = await this.etcdctl(['endpoint', 'status', '-w', 'json']);
    const parsed = JSON.parse(stdout) as Array<{ Status?: { header?: { revision?: number } } }>;
    const revision = parsed[0]?.Status?.header?.revision;
    if (typeof revision !== 'number') throw new Error(`no revision in etcdctl output: ${stdout}`);
    return revision;
  }

  private etcdctl(args: string[]): Promise<{ stdout: string; stderr: string }> {
    const env = { ...process.env, ETCDCTL_API: '3' };
    return runText(join(this.assets, 'etcdctl'), [`--endpoints=${this.etcdEndpoint}`, ...args], env);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const assets = resolveAssets();
  const layout = makeLayout();
  const token = (): string => randomBytes(24).toString('hex');
  const tokens = { admin: token(), nobody: token(), controllerManager: token() };
  writeServiceAccountKey(layout.saKey);
  writeTokenFile(layout.tokenFile, tokens, opts.tokenUsers ?? []);
  writeFileSync(layout.auditPolicy, opts.auditEveryoneButAdmin === true ? AUDIT_EVERYONE_BUT_ADMIN : AUDIT_POLICY);
  const [etcdClient = 0, etcdPeer = 0, apiserver = 0] = await freePorts(3);
  const ports = { etcdClient, etcdPeer, apiserver };
  const cp = new RunningControlPlane(layout, assets, ports, opts, tokens);
  cp.writeKubeconfigs();
  try {
    await cp.startEtcd();
    await cp.startApiserver();
    if (cp.controllerManager) await cp.startControllerManager();
  } catch (err) {
    await cp.stop();
    throw err;
  }
  return cp;
}
