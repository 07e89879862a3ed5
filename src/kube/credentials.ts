import { readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { unreadableFile, usageError } from '../errors.js';
import type { ResolvedConfig, UserConfig } from './config.js';
import { type ExecCredential, runExecPlugin } from './exec-plugin.js';

/** What one request carries to prove who it is: headers, and a client certificate handed out by an exec plugin. */
export interface Credential {
  headers: OutgoingHttpHeaders;
  cert?: string | undefined;
  key?: string | undefined;
}

/** One way of getting the Authorization header. */
interface Source {
  get(): Promise<Credential> | Credential;
  /** After a 401: look again; true when there is something new to try. */
  refresh(used: Credential): Promise<boolean> | boolean;
}

/** client-go re-reads a token file at most once a minute, and keeps the last good token if it cannot. */
export const TOKEN_FILE_PERIOD_MS = 60_000;

/**
 * The user's credentials as kubectl picks them: a token (tokenFile, else the inline token), then username and
 * password, then an exec plugin (only when there is no token, password or client certificate), then an auth
 * provider. Token files and plugins are checked or run lazily but at most as often as kubectl would. To a plain
 * http server (`kubectl proxy`, which adds its own) no credential is sent, as kubectl does: it would be readable on
 * the way. Impersonation is sent all the same, as kubectl sends it (`kubectl proxy` passes it on).
 */
export class Credentials {
  private readonly source: Source;
  private readonly impersonation: OutgoingHttpHeaders;

  constructor(config: ResolvedConfig, caPem: string | undefined, now: () => number = Date.now) {
    const plainHttp = new URL(config.cluster.server).protocol === 'http:';
    this.source = plainHttp ? fixed({}) : pickSource(config, caPem, now);
    this.impersonation = impersonationHeaders(config.user);
  }

  /** The same object for the same credential, so that `refresh` can tell whether it was replaced meanwhile. */
  private readonly withHeaders = new WeakMap<Credential, Credential>();
  private readonly sourceOf = new WeakMap<Credential, Credential>();

  async get(): Promise<Credential> {
    const credential = await this.source.get();
    let complete = this.withHeaders.get(credential);
    if (complete === undefined) {
      complete = { ...credential, headers: { ...credential.headers, ...this.impersonation } };
      this.withHeaders.set(credential, complete);
      this.sourceOf.set(complete, credential);
    }
    return complete;
  }

  refresh(used: Credential): Promise<boolean> | boolean {
    return this.source.refresh(this.sourceOf.get(used) ?? used);
  }
}

function pickSource(config: ResolvedConfig, caPem: string | undefined, now: () => number): Source {
  const user = config.user;
  if (user === null) return fixed({});
  if (user.tokenFile) return new TokenFile(user.tokenFile, `tokenFile of user "${user.name}" in ${config.source}`, now, user.token);
  if (user.token) return fixed(bearer(user.token));
  if (user.username || user.password) return fixed(basic(user.username ?? '', user.password ?? ''));
  const hasClientCert = Boolean(user.certFile || user.certData);
  if (user.exec && !hasClientCert) return new ExecPlugin(config, user, caPem, now);
  if (user.authProvider) return new AuthProvider(config);
  return fixed({});
}

function basic(username: string, password: string): OutgoingHttpHeaders {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

function fixed(headers: OutgoingHttpHeaders): Source {
  const credential = { headers };
  return { get: () => credential, refresh: () => false };
}

function bearer(token: string): OutgoingHttpHeaders {
  return { authorization: `Bearer ${token}` };
}

function impersonationHeaders(user: UserConfig | null): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  if (!user?.impersonate) return headers;
  headers['impersonate-user'] = user.impersonate;
  if (user.impersonateGroups.length) headers['impersonate-group'] = user.impersonateGroups;
  if (user.impersonateUid) headers['impersonate-uid'] = user.impersonateUid;
  for (const [key, values] of Object.entries(user.impersonateExtra)) {
    if (values.length > 0) headers[`impersonate-extra-${escapeHeaderKey(key)}`] = values;
  }
  return headers;
}

// The characters of an HTTP token (RFC 7230), less '%': the API server lower-cases an extra's key and
// percent-decodes it, so `example.com/Scopes` arrives as client-go sends it.
const HEADER_KEY_CHARACTER = /[!#$&'*+\-.^_`|~0-9A-Za-z]/;

/** client-go's headerKeyEscape: every byte that may not stand in a header name, and '%', as %XX. */
export function escapeHeaderKey(key: string): string {
  return [...Buffer.from(key, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return byte < 0x7f && HEADER_KEY_CHARACTER.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/**
 * A token in a file that may be rotated (a projected service account token, a CI secret). With an inline token
 * too, the file's wins whenever it can be read, and the inline one stands in until it can (client-go's order).
 */
class TokenFile implements Source {
  private credential: Credential;
  private readAt: number;

  constructor(
    private readonly file: string,
    private readonly field: string,
    private readonly now: () => number,
    fallback: string | undefined,
  ) {
    // Missing or empty at the start, with nothing to stand in: a configuration error before any request.
    this.credential = { headers: bearer(fallback === undefined ? this.read() : (this.tryRead() ?? fallback)) };
    this.readAt = now();
  }

  get(): Credential {
    if (this.now() - this.readAt >= TOKEN_FILE_PERIOD_MS) this.reread();
    return this.credential;
  }

  refresh(used: Credential): boolean {
    this.reread();
    return this.credential.headers['authorization'] !== used.headers['authorization'];
  }

  private reread(): void {
    this.readAt = this.now();
    // As client-go: a file being replaced, or gone for a moment, leaves the last good token in use.
    const token = this.tryRead();
    if (token !== undefined) this.credential = { headers: bearer(token) };
  }

  private tryRead(): string | undefined {
    try {
      return this.read();
    } catch {
      return undefined;
    }
  }

  private read(): string {
    let token: string;
    try {
      token = readFileSync(this.file, 'utf8').trim();
    } catch (err) {
      throw usageError(`${this.field}: ${unreadableFile(this.file, err)}`);
    }
    if (token === '') throw usageError(`${this.field}: file ${this.file} is empty`);
    return token;
  }
}

/** Runs the plugin once, then again only when its credential expired or the server rejected it (as client-go). */
class ExecPlugin implements Source {
  private current: { credential: Credential; expiresAt: number | undefined } | undefined;
  /** Requests that start together share one run of the plugin: it may prompt, and should not prompt sixteen times. */
  private running: Promise<Credential> | undefined;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly user: UserConfig,
    private readonly caPem: string | undefined,
    private readonly now: () => number,
  ) {}

  get(): Promise<Credential> | Credential {
    const current = this.current;
    if (current && (current.expiresAt === undefined || this.now() < current.expiresAt)) return current.credential;
    return this.run();
  }

  async refresh(used: Credential): Promise<boolean> {
    if (this.running) await this.running.catch(() => undefined);
    if (this.current?.credential !== used) return true;
    await this.run();
    return true;
  }

  private run(): Promise<Credential> {
    this.running ??= this.exec().finally(() => (this.running = undefined));
    return this.running;
  }

  private async exec(): Promise<Credential> {
    const exec = this.user.exec;
    if (exec === undefined) return { headers: {} };
    const result: ExecCredential = await runExecPlugin(exec, {
      userName: this.user.name,
      source: this.config.source,
      cluster: this.config.cluster,
      caPem: this.caPem,
      stdinIsTerminal: process.stdin.isTTY === true,
    });
    const credential = { headers: result.token ? bearer(result.token) : {}, cert: result.cert, key: result.key };
    this.current = { credential, expiresAt: result.expiresAt };
    return credential;
  }
}

/**
 * The legacy auth providers (oidc, and the gcp/azure ones of older kubeconfigs) are client-node's: its
 * KubeConfig is loaded only for them, and asked for the Authorization header on every request (it caches).
 */
class AuthProvider implements Source {
  constructor(private readonly config: ResolvedConfig) {}

  async get(): Promise<Credential> {
    const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
    const { cluster, user, contextName } = this.config;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: cluster.name, server: cluster.server, skipTLSVerify: cluster.skipTLSVerify }],
      users: [{ name: user?.name ?? '', authProvider: user?.authProvider }],
      contexts: [{ name: contextName, cluster: cluster.name, user: user?.name ?? '' }],
      currentContext: contextName,
    });
    const options: { headers: OutgoingHttpHeaders } = { headers: {} };
    await kc.applyToHTTPSOptions(options);
    const authorization = options.headers['Authorization'] ?? options.headers['authorization'];
    return { headers: authorization === undefined ? {} : { authorization: String(authorization) } };
  }

  refresh(): boolean {
    return false;
  }
}
