import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { CliError, ExitCode, fileProblem, usageError } from '../errors.js';
import { loadFirstAsKubectl } from './kubectl-yaml.js';
import { YamlScalar } from './yaml-scalar.js';

/** A cluster entry of a kubeconfig, paths already made absolute. */
export interface ClusterConfig {
  name: string;
  server: string | undefined;
  caFile?: string | undefined;
  /** Base64 of PEM, as the kubeconfig holds it. */
  caData?: string | undefined;
  skipTLSVerify: boolean;
  tlsServerName?: string | undefined;
  proxyUrl?: string | undefined;
  /** The `client.authentication.k8s.io/exec` extension, handed to exec plugins with provideClusterInfo. */
  execExtension?: unknown;
}

export type InteractiveMode = 'Never' | 'IfAvailable' | 'Always';

export interface ExecConfig {
  apiVersion: string;
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  installHint?: string | undefined;
  provideClusterInfo: boolean;
  interactiveMode: InteractiveMode;
}

export interface UserConfig {
  name: string;
  token?: string | undefined;
  tokenFile?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  certFile?: string | undefined;
  certData?: string | undefined;
  keyFile?: string | undefined;
  keyData?: string | undefined;
  impersonate?: string | undefined;
  impersonateGroups: string[];
  impersonateUid?: string | undefined;
  /** `as-user-extra`: each key's values, sent as `Impersonate-Extra-KEY` headers. */
  impersonateExtra: Record<string, string[]>;
  exec?: ExecConfig | undefined;
  authProvider?: { name: string; config: Record<string, string> } | undefined;
}

export interface ContextConfig {
  name: string;
  cluster: string;
  user?: string | undefined;
  namespace?: string | undefined;
}

export interface Kubeconfig {
  clusters: ClusterConfig[];
  users: UserConfig[];
  contexts: ContextConfig[];
  currentContext: string | undefined;
}

export const EMPTY_KUBECONFIG: Kubeconfig = Object.freeze({ clusters: [], users: [], contexts: [], currentContext: undefined });

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];
const EXEC_EXTENSION = 'client.authentication.k8s.io/exec';
const INTERACTIVE_MODES: readonly string[] = ['Never', 'IfAvailable', 'Always'];
/** Fields whose value a message must not repeat, even a mistyped one: `token: 0x1F` is still someone's token. */
const SECRET_FIELDS = new Set(['token', 'password', 'client-key-data', 'value']);

/**
 * Reads one kubeconfig file the way kubectl does: the first YAML document only, plain scalars as YAML 1.1 reads
 * them; an empty file (or an empty first document) is a kubeconfig that defines nothing. Unknown fields are
 * ignored, but a field of the wrong type is an error that names the field (`clusters: 5` is a malformed file, not
 * a file without contexts; `namespace: 0123` is a number, which kubectl refuses too, not the namespace 123).
 * Relative paths are relative to the file's folder.
 */
export function readKubeconfig(file: string): Kubeconfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read kubeconfig ${file}: ${fileProblem(err)}`, 'point --kubeconfig at a kubeconfig file');
  }
  let doc: unknown;
  try {
    doc = loadFirstAsKubectl(text);
  } catch (err) {
    // The reason and position only: the rest of the message quotes the file, which may hold a token.
    const reason = err instanceof yaml.YAMLException ? `${err.reason} (line ${err.mark.line + 1})` : 'unreadable';
    throw usageError(`kubeconfig ${file} is not a valid kubeconfig: ${reason}`);
  }
  return doc == null ? EMPTY_KUBECONFIG : new Reader(file).config(doc);
}

type Mapping = Record<string, unknown>;

/** Walks the parsed document, checking each field's type; every complaint names the field's path. */
class Reader {
  private readonly dir: string;

  constructor(private readonly file: string) {
    this.dir = path.dirname(path.resolve(file));
  }

  config(doc: unknown): Kubeconfig {
    const top = this.mapping(doc, 'the document');
    this.checkKind(top);
    const config = {
      clusters: this.list(top, 'clusters').map((entry, i) => this.cluster(entry, `clusters[${i}]`)),
      users: this.list(top, 'users').map((entry, i) => this.user(entry, `users[${i}]`)),
      contexts: this.list(top, 'contexts').map((entry, i) => this.context(entry, `contexts[${i}]`)),
      currentContext: this.string(top, 'current-context', '') || undefined,
    };
    for (const key of ['clusters', 'users', 'contexts'] as const) this.checkUnique(key, config[key]);
    return config;
  }

  /** kubectl decodes `v1` `Config` (either may be left out) and nothing else. */
  private checkKind(top: Mapping): void {
    const apiVersion = this.string(top, 'apiVersion', '') || 'v1';
    const kind = this.string(top, 'kind', '') || 'Config';
    if (apiVersion !== 'v1' || kind !== 'Config') {
      throw new CliError(ExitCode.Usage, `kubeconfig ${this.file} is not a kubeconfig: it says apiVersion ${apiVersion}, kind ${kind}`, {
        hint: 'a kubeconfig has apiVersion v1 and kind Config; kubectl refuses this file too',
      });
    }
  }

  /** Two entries of one name in one file: kubectl refuses the file rather than pick one. */
  private checkUnique(key: string, entries: Array<{ name: string }>): void {
    const first = new Map<string, number>();
    for (const [i, { name }] of entries.entries()) {
      const earlier = first.get(name);
      if (earlier !== undefined) {
        throw new CliError(
          ExitCode.Usage,
          `kubeconfig ${this.file} is malformed: ${key}[${earlier}] and ${key}[${i}] are both named ${JSON.stringify(name)}`,
          { hint: 'rename or remove one of them; kubectl refuses this file too' },
        );
      }
      first.set(name, i);
    }
  }

  private cluster(entry: unknown, at: string): ClusterConfig {
    const { name, body } = this.named(entry, at, 'cluster');
    const where = `${at}.cluster`;
    return {
      name,
      server: this.string(body, 'server', where),
      caFile: this.path(this.string(body, 'certificate-authority', where)),
      caData: this.string(body, 'certificate-authority-data', where),
      skipTLSVerify: this.boolean(body, 'insecure-skip-tls-verify', where),
      tlsServerName: this.string(body, 'tls-server-name', where),
      proxyUrl: this.string(body, 'proxy-url', where),
      execExtension: this.extension(body, where),
    };
  }

  private user(entry: unknown, at: string): UserConfig {
    const { name, body } = this.named(entry, at, 'user');
    const where = `${at}.user`;
    const text = (key: string): string | undefined => this.string(body, key, where);
    return {
      name,
      token: text('token'),
      tokenFile: this.path(text('tokenFile')),
      username: text('username'),
      password: text('password'),
      certFile: this.path(text('client-certificate')),
      certData: text('client-certificate-data'),
      keyFile: this.path(text('client-key')),
      keyData: text('client-key-data'),
      impersonate: text('as'),
      impersonateGroups: this.strings(body, 'as-groups', where),
      impersonateUid: text('as-uid'),
      impersonateExtra: this.extras(body, where),
      exec: body['exec'] == null ? undefined : this.exec(body['exec'], `${where}.exec`),
      authProvider: body['auth-provider'] == null ? undefined : this.authProvider(body['auth-provider'], `${where}.auth-provider`),
    };
  }

  private context(entry: unknown, at: string): ContextConfig {
    const { name, body } = this.named(entry, at, 'context');
    const where = `${at}.context`;
    const cluster = this.string(body, 'cluster', where);
    if (cluster === undefined) throw this.malformed(`${where}.cluster is missing`);
    return {
      name,
      cluster,
      user: this.string(body, 'user', where) || undefined,
      namespace: this.string(body, 'namespace', where) || undefined,
    };
  }

  private exec(value: unknown, at: string): ExecConfig {
    const body = this.mapping(value, at);
    const command = this.string(body, 'command', at);
    if (!command) throw this.malformed(`${at}.command is missing`);
    const apiVersion = this.string(body, 'apiVersion', at) ?? '';
    if (!EXEC_API_VERSIONS.includes(apiVersion)) {
      throw this.malformed(`${at}.apiVersion must be one of ${EXEC_API_VERSIONS.join(', ')}, not ${JSON.stringify(apiVersion)}`);
    }
    return {
      apiVersion,
      command: command.includes('/') ? path.resolve(this.dir, command) : command,
      args: this.strings(body, 'args', at),
      env: this.list(body, 'env', at).map((e, i) => this.envVar(e, `${at}.env[${i}]`)),
      installHint: this.string(body, 'installHint', at),
      provideClusterInfo: this.boolean(body, 'provideClusterInfo', at),
      interactiveMode: this.interactiveMode(body, apiVersion, at),
    };
  }

  /** client-go: required from v1 on, IfAvailable before. */
  private interactiveMode(body: Mapping, apiVersion: string, at: string): InteractiveMode {
    const mode = this.string(body, 'interactiveMode', at);
    if (mode === undefined && apiVersion.endsWith('/v1')) throw this.malformed(`${at}.interactiveMode is required with ${apiVersion}`);
    if (mode !== undefined && !INTERACTIVE_MODES.includes(mode)) {
      throw this.malformed(`${at}.interactiveMode must be Never, IfAvailable or Always, not ${JSON.stringify(mode)}`);
    }
    return (mode ?? 'IfAvailable') as InteractiveMode;
  }

  private envVar(value: unknown, at: string): { name: string; value: string } {
    const body = this.mapping(value, at);
    const name = this.string(body, 'name', at);
    if (!name) throw this.malformed(`${at}.name is missing`);
    return { name, value: this.string(body, 'value', at) ?? '' };
  }

  private authProvider(value: unknown, at: string): { name: string; config: Record<string, string> } {
    const body = this.mapping(value, at);
    const config: Record<string, string> = {};
    const raw = body['config'] == null ? {} : this.mapping(body['config'], `${at}.config`);
    // Its settings are access and refresh tokens and client secrets: none is ever repeated in a message.
    for (const key of Object.keys(raw)) config[key] = this.string(raw, key, `${at}.config`, true) ?? '';
    return { name: this.string(body, 'name', at) ?? '', config };
  }

  private extras(body: Mapping, at: string): Record<string, string[]> {
    const raw = body['as-user-extra'] == null ? {} : this.mapping(body['as-user-extra'], `${at}.as-user-extra`);
    return Object.fromEntries(Object.keys(raw).map((key) => [key, this.strings(raw, key, `${at}.as-user-extra`)]));
  }

  private extension(body: Mapping, at: string): unknown {
    const found = this.list(body, 'extensions', at).find((e, i) => this.mapping(e, `${at}.extensions[${i}]`)['name'] === EXEC_EXTENSION);
    return found === undefined ? undefined : plain((found as Mapping)['extension']);
  }

  private named(entry: unknown, at: string, bodyKey: string): { name: string; body: Mapping } {
    const mapping = this.mapping(entry, at);
    const name = this.string(mapping, 'name', at);
    if (!name) throw this.malformed(`${at} has no name`);
    const body = mapping[bodyKey];
    return { name, body: body == null ? {} : this.mapping(body, `${at}.${bodyKey}`) };
  }

  private list(parent: Mapping, key: string, at = ''): unknown[] {
    const value = parent[key];
    if (value == null) return [];
    if (!Array.isArray(value)) throw this.wrongType(join(at, key), 'a list', value);
    return value;
  }

  private strings(parent: Mapping, key: string, at: string): string[] {
    return this.list(parent, key, at).map((v, i) => {
      if (typeof v !== 'string') throw this.wrongType(`${join(at, key)}[${i}]`, 'a string', v);
      return v;
    });
  }

  private mapping(value: unknown, at: string): Mapping {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof YamlScalar) {
      throw this.wrongType(at, 'a mapping', value);
    }
    return value as Mapping;
  }

  /** Text only: an unquoted 0123, 1e3 or yes is a number or a boolean to YAML, and kubectl refuses it too. */
  private string(parent: Mapping, key: string, at: string, secret = SECRET_FIELDS.has(key)): string | undefined {
    const value = parent[key];
    if (value == null) return undefined;
    if (typeof value !== 'string') throw this.wrongType(join(at, key), 'a string', value, secret);
    return value;
  }

  /** YAML 1.1's booleans, as kubectl reads them: `true`, `yes`, `on`; text (even "true") is not one. */
  private boolean(parent: Mapping, key: string, at: string): boolean {
    const value = parent[key];
    if (value == null) return false;
    if (!(value instanceof YamlScalar) || value.type !== 'boolean') throw this.wrongType(join(at, key), 'true or false', value);
    return value.value === true;
  }

  private path(value: string | undefined): string | undefined {
    return value ? path.resolve(this.dir, value) : undefined;
  }

  private wrongType(at: string, expected: string, value: unknown, secret = false): Error {
    const quote = value instanceof YamlScalar && expected === 'a string' ? ' (quote it to keep it as text)' : '';
    return this.malformed(`${at} must be ${expected}, not ${describe(value, secret)}${quote}`);
  }

  private malformed(what: string): Error {
    return usageError(`kubeconfig ${this.file} is malformed: ${what}`);
  }
}

function join(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`;
}

/** What was found instead, without quoting strings or secrets. */
function describe(value: unknown, secret: boolean): string {
  if (value instanceof YamlScalar) return secret ? `a ${value.type}` : value.describe();
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a mapping';
  return 'a string';
}

/** The extension as JSON holds it (numbers and booleans as such), the way kubectl hands it to a plugin. */
function plain(value: unknown): unknown {
  if (value instanceof YamlScalar) return value.value;
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}
