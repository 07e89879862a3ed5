import { spawn } from 'node:child_process';
import { CliError, ExitCode, fileProblem, usageError } from '../errors.js';
import type { ClusterConfig, ExecConfig } from './kubeconfig.js';
import { keyPairProblem } from './tls.js';

/** What a plugin hands back: a token, a client certificate, or both, and until when they hold. */
export interface ExecCredential {
  token?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  /** Milliseconds since the epoch; undefined: until the server rejects it. */
  expiresAt?: number | undefined;
}

export interface PluginContext {
  userName: string;
  source: string;
  cluster: ClusterConfig & { server: string };
  /** The cluster's CA as PEM, for provideClusterInfo. */
  caPem: string | undefined;
  stdinIsTerminal: boolean;
}

interface ExecCredentialStatus {
  token?: unknown;
  clientCertificateData?: unknown;
  clientKeyData?: unknown;
  expirationTimestamp?: unknown;
}

/** The last stderr lines are kept for the error message; the plugin's own output reaches the user as it comes. */
const STDERR_TAIL = 2_000;

/**
 * Runs a client-go credential plugin as kubectl does: KUBERNETES_EXEC_INFO describes the request (and the cluster
 * with provideClusterInfo), stdin is the terminal when the plugin may be interactive, and its stderr (login prompts,
 * device codes) goes to ours. A plugin that is missing is a configuration error (exit 2, with its installHint);
 * one that fails or prints no credential is a credentials error (exit 3) quoting its last words.
 */
export async function runExecPlugin(exec: ExecConfig, ctx: PluginContext): Promise<ExecCredential> {
  const interactive = isInteractive(exec, ctx);
  const info = { apiVersion: exec.apiVersion, kind: 'ExecCredential', spec: { interactive, ...clusterInfo(exec, ctx) } };
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  for (const { name, value } of exec.env) env[name] = value;
  const { code, stdout, stderr } = await run(exec, env, interactive, ctx);
  const plugin = `exec plugin ${JSON.stringify(exec.command)} of user "${ctx.userName}"`;
  if (code !== 0) {
    const said = lastLine(stderr);
    throw new CliError(ExitCode.Cluster, `${plugin} failed with exit code ${code}${said ? `: ${said}` : ''}`, {
      hint: 'its own messages, if any, are above; it may need you to log in again',
    });
  }
  return parseCredential(stdout, exec.apiVersion, plugin);
}

function isInteractive(exec: ExecConfig, ctx: PluginContext): boolean {
  if (exec.interactiveMode === 'Never') return false;
  if (exec.interactiveMode === 'Always' && !ctx.stdinIsTerminal) {
    throw usageError(
      `exec plugin ${JSON.stringify(exec.command)} of user "${ctx.userName}" needs a terminal (interactiveMode: Always), but standard input is not one`,
    );
  }
  return ctx.stdinIsTerminal;
}

/** client-go's ExecCredential Cluster: the kubeconfig's cluster, its CA as data, and the exec extension. */
function clusterInfo(exec: ExecConfig, ctx: PluginContext): { cluster?: Record<string, unknown> } {
  if (!exec.provideClusterInfo) return {};
  const { cluster, caPem } = ctx;
  const entries: Array<[string, unknown]> = [
    ['server', cluster.server],
    ['tls-server-name', cluster.tlsServerName],
    ['insecure-skip-tls-verify', cluster.skipTLSVerify || undefined],
    ['certificate-authority-data', caPem === undefined ? undefined : Buffer.from(caPem).toString('base64')],
    ['proxy-url', cluster.proxyUrl],
    ['config', cluster.execExtension],
  ];
  return { cluster: Object.fromEntries(entries.filter(([, v]) => v !== undefined)) };
}

function run(
  exec: ExecConfig,
  env: NodeJS.ProcessEnv,
  interactive: boolean,
  ctx: PluginContext,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(exec.command, exec.args, { env, stdio: [interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      process.stderr.write(chunk);
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    child.once('error', (err: NodeJS.ErrnoException) => reject(spawnError(err, exec, ctx)));
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

function spawnError(err: NodeJS.ErrnoException, exec: ExecConfig, ctx: PluginContext): CliError {
  const plugin = `exec plugin ${JSON.stringify(exec.command)} of user "${ctx.userName}" in ${ctx.source}`;
  if (err.code === 'ENOENT') {
    return new CliError(ExitCode.Usage, `${plugin} is not installed (not found${exec.command.includes('/') ? '' : ' in PATH'})`, {
      hint: oneLine(exec.installHint ?? '') || 'install it, or fix exec.command in the kubeconfig',
    });
  }
  if (err.code === 'EACCES') return new CliError(ExitCode.Usage, `${plugin} cannot be run: it is not executable`);
  return new CliError(ExitCode.Usage, `${plugin} cannot be run: ${fileProblem(err)}`);
}

function parseCredential(stdout: string, apiVersion: string, plugin: string): ExecCredential {
  const fail = (what: string): CliError => new CliError(ExitCode.Cluster, `${plugin} ${what}`);
  let parsed: { apiVersion?: unknown; kind?: unknown; status?: ExecCredentialStatus } | null;
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch {
    // Not quoted: a plugin that prints a bare token instead of an ExecCredential must not have it shown.
    throw fail(stdout.trim() === '' ? 'printed nothing' : 'printed something that is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.kind !== 'ExecCredential')
    throw fail('printed something that is not an ExecCredential');
  if (parsed.apiVersion !== apiVersion)
    throw fail(`answered with apiVersion ${JSON.stringify(parsed.apiVersion)}, not ${apiVersion} as configured`);
  const problem = credentialProblem(parsed.status ?? {});
  if (problem !== undefined) throw fail(problem);
  return credentialOf(parsed.status ?? {});
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** client-go's checks of a plugin's status, in its words. */
function credentialProblem(status: ExecCredentialStatus): string | undefined {
  const { token, cert, key, expiresAt } = credentialOf(status);
  if (!token && !cert && !key) return 'returned neither a token nor a client certificate';
  if (!cert !== !key) return 'returned a client certificate or key without the other';
  const pair = cert && key ? keyPairProblem(cert, key) : undefined;
  if (pair !== undefined) return `returned an unusable client certificate: ${pair}`;
  if (expiresAt !== undefined && Number.isNaN(expiresAt))
    return `returned an expirationTimestamp that is not a time: ${quote(String(status.expirationTimestamp))}`;
  return undefined;
}

function credentialOf(status: ExecCredentialStatus): ExecCredential {
  const expiry = text(status.expirationTimestamp);
  return {
    token: text(status.token),
    cert: text(status.clientCertificateData),
    key: text(status.clientKeyData),
    expiresAt: expiry === undefined ? undefined : Date.parse(expiry),
  };
}

function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function quote(text: string): string {
  const words = oneLine(text);
  return JSON.stringify(words.length > 60 ? `${words.slice(0, 60)}…` : words);
}
