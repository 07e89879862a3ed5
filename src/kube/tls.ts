import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { unreadableFile, usageError } from '../errors.js';
import type { ResolvedConfig } from './config.js';

/** What the TLS connection needs, read and checked once, before any request. */
export interface TlsMaterial {
  ca?: string[] | undefined;
  /** The CA as the kubeconfig gives it, for exec plugins that ask for the cluster's details. */
  caPem?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  rejectUnauthorized: boolean;
  servername?: string | undefined;
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads the cluster's CA and the user's client certificate and key, and checks them the way a TLS library
 * would later, so that a missing file, a CA that is not a certificate or a key that does not belong to its
 * certificate is one plain line naming the kubeconfig field (exit 2), not an OpenSSL error at the first request.
 */
export function loadTls(config: ResolvedConfig): TlsMaterial {
  const { cluster, source } = config;
  // As kubectl: a plain http server has no TLS to set up, and its TLS settings are not read.
  if (new URL(cluster.server).protocol === 'http:') return { rejectUnauthorized: true };
  const { ca, caPem } = clusterCa(config);
  if (ca !== undefined && cluster.skipTLSVerify) {
    throw usageError(
      `cluster "${cluster.name}" in ${source} has both a certificate authority and insecure-skip-tls-verify`,
      'kubectl refuses this too: keep one of them',
    );
  }
  const material = { ca, caPem, ...clientPair(config), rejectUnauthorized: !cluster.skipTLSVerify, servername: cluster.tlsServerName };
  checkAccepted(material, `the TLS settings of context "${config.contextName}" in ${source}`);
  return material;
}

function clusterCa({ cluster, source }: ResolvedConfig): { ca?: string[]; caPem?: string } {
  const field = `${cluster.caFile ? 'certificate-authority' : 'certificate-authority-data'} of cluster "${cluster.name}" in ${source}`;
  const pem = readPem(cluster.caFile, cluster.caData, field);
  return pem === undefined ? {} : { ca: certificates(pem, field), caPem: pem };
}

function clientPair({ user, source }: ResolvedConfig): { cert?: string; key?: string } {
  if (user === null) return {};
  const fromFiles = Boolean(user.certFile || user.keyFile);
  const field = (name: string): string => `${fromFiles ? name : `${name}-data`} of user "${user.name}" in ${source}`;
  const cert = readPem(user.certFile, user.certData, field('client-certificate'));
  const key = readPem(user.keyFile, user.keyData, field('client-key'));
  if (cert === undefined && key === undefined) return {};
  if (cert === undefined || key === undefined) {
    const [has, lacks] = cert === undefined ? ['key', 'certificate'] : ['certificate', 'key'];
    throw usageError(`user "${user.name}" in ${source} has a client ${has} but no client ${lacks}`);
  }
  const problem = keyPairProblem(cert, key);
  if (problem !== undefined) throw usageError(`${field('client-certificate')} and its client-key: ${problem}`);
  return { cert, key };
}

/** Why a certificate and key cannot be used together, in words; undefined when they can. */
export function keyPairProblem(certPem: string, keyPem: string): string | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(firstCertificate(certPem) ?? '');
  } catch {
    return 'the certificate is not a PEM certificate';
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return 'the key is not a PEM private key';
  }
  return certificate.checkPrivateKey(key) ? undefined : 'the key does not belong to the certificate';
}

function firstCertificate(pem: string): string | undefined {
  return pem.match(CERTIFICATE)?.[0];
}

/** The PEM certificates in a CA bundle; at least one must parse, as for kubectl. */
function certificates(pem: string, field: string): string[] {
  const parsed = (pem.match(CERTIFICATE) ?? []).filter((block) => {
    try {
      new X509Certificate(block);
      return true;
    } catch {
      return false;
    }
  });
  if (parsed.length === 0)
    throw usageError(`${field} is not a PEM certificate`, "it must hold the cluster's CA certificate (-----BEGIN CERTIFICATE-----)");
  return parsed;
}

function readPem(file: string | undefined, data: string | undefined, field: string): string | undefined {
  if (file) {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw usageError(`${field}: ${unreadableFile(file, err)}`);
    }
  }
  return data ? Buffer.from(data, 'base64').toString('utf8') : undefined;
}

/** Whatever the checks above did not foresee still becomes one line, without OpenSSL's error codes. */
function checkAccepted(material: TlsMaterial, what: string): void {
  try {
    tls.createSecureContext({ ca: material.ca, cert: material.cert, key: material.key });
  } catch (err) {
    throw usageError(`${what} cannot be used: ${plainOpenSslMessage(err)}`);
  }
}

/** `error:0480006C:PEM routines::no start line` → `no start line`. */
function plainOpenSslMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^error:[0-9A-Fa-f]+:[^:]*:[^:]*:/, '').trim() || message;
}
