// The API server's own record of what a service account asked and what it answered (ControlPlaneOptions.auditServiceAccounts).
import { existsSync, readFileSync } from 'node:fs';

/** One request, at the last stage logged for it: ResponseComplete, or ResponseStarted for a watch still open. */
export interface AuditedRequest {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  /** When the request arrived, and when it reached `stage`. */
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

const STAGE_ORDER = ['ResponseStarted', 'ResponseComplete', 'Panic'];

/** Every request made by `username` (all of them without it), one entry per request. */
export function auditedRequests(file: string, username?: string): AuditedRequest[] {
  if (!existsSync(file)) return [];
  const byId = new Map<string, AuditedRequest>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const event = JSON.parse(line) as AuditedRequest;
    if (username !== undefined && event.user.username !== username) continue;
    const seen = byId.get(event.auditID);
    if (!seen || STAGE_ORDER.indexOf(event.stage) > STAGE_ORDER.indexOf(seen.stage)) byId.set(event.auditID, event);
  }
  return [...byId.values()];
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
