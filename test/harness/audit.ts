// The API server's own record of who asked what, and what it answered (ControlPlaneOptions.auditServiceAccounts and
// auditEveryoneButAdmin).
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

export interface AuditedUser {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** One request, at the last stage logged for it: ResponseComplete, or ResponseStarted for a watch still open. */
export interface AuditedRequest {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  /** Who authenticated (no username: authentication failed), and whom it impersonated. */
  user: AuditedUser;
  impersonatedUser?: AuditedUser;
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  /** When the request arrived, and when it reached `stage`. */
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

const STAGE_ORDER = ['ResponseStarted', 'ResponseComplete', 'Panic'];

/** Keeps the latest stage of each request; returns whether the event was news. */
function keepLatest(byId: Map<string, AuditedRequest>, event: AuditedRequest): boolean {
  const seen = byId.get(event.auditID);
  if (seen && STAGE_ORDER.indexOf(event.stage) <= STAGE_ORDER.indexOf(seen.stage)) return false;
  byId.set(event.auditID, event);
  return true;
}

/** Every request made by `username` (all of them without it), one entry per request. */
export function auditedRequests(file: string, username?: string): AuditedRequest[] {
  if (!existsSync(file)) return [];
  const byId = new Map<string, AuditedRequest>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const event = JSON.parse(line) as AuditedRequest;
    if (username === undefined || event.user.username === username) keepLatest(byId, event);
  }
  return [...byId.values()];
}

/** Reads an audit log as it grows: each read() returns the events written since the last, whole lines only. */
export class AuditTail {
  private offset = 0;
  private partial = '';

  constructor(private readonly file: string) {}

  /** Forgets everything written so far. */
  skip(): void {
    this.read();
  }

  read(): AuditedRequest[] {
    if (!existsSync(this.file)) return [];
    const size = statSync(this.file).size;
    if (size < this.offset) throw new Error(`${this.file} shrank: the API server started a new audit log, events were missed`);
    if (size === this.offset) return [];
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const parts = (this.partial + buffer.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    return parts.filter((l) => l !== '').map((l) => JSON.parse(l) as AuditedRequest);
  }
}

/** The requests among `events` (several stages of one request count once), by auditID. */
export function collectRequests(into: Map<string, AuditedRequest>, events: AuditedRequest[]): AuditedRequest[] {
  return events.filter((e) => keepLatest(into, e));
}

/** `verb resource[.group][/subresource]` as `kubectl auth can-i` spells it: `patch members.helloworld.apimeister.com/status`. */
export function permissionOf(r: AuditedRequest): string {
  const ref = r.objectRef;
  if (!ref?.resource) return `${r.verb} ${r.requestURI}`;
  const group = ref.apiGroup ? `.${ref.apiGroup}` : '';
  return `${r.verb} ${ref.resource}${group}${ref.subresource ? `/${ref.subresource}` : ''}`;
}

export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}
