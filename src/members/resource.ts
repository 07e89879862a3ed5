import type { CrdRef, Operation } from '../kube/errors.js';

/** The Member custom resource: the coordinates the Rust hello-world operator defined. */
export const GROUP = 'helloworld.apimeister.com';
export const VERSION = 'v1';
export const KIND = 'Member';
export const PLURAL = 'members';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CRD_NAME = `${PLURAL}.${GROUP}`;
export const FIELD_MANAGER = 'member-watch';
export const RESOURCE = `${PLURAL}.${GROUP}`;
export const MEMBER_CRD: CrdRef = { name: CRD_NAME, kind: KIND };

/** A request on Members, for error messages: a 404 for the type itself means the Member CRD is not installed. */
export function memberOp(verb: string, namespace?: string): Operation {
  return { verb, resource: RESOURCE, namespace, crd: MEMBER_CRD };
}
/** Held by the operator from a member's welcome until its goodbye, so a deletion while no operator runs is still seen off. */
export const FINALIZER = `${GROUP}/farewell`;

export interface MemberObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    generation?: number;
    finalizers?: string[];
  };
  spec?: { memberOf?: string | null };
  status?: MemberStatus;
}

/** What the operator announced for a member (crds/member.yaml), written through the status subresource. */
export interface MemberStatus {
  announcedTeam?: string;
  announcedAt?: string;
  observedGeneration?: number;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
}

export interface MemberList {
  metadata: ListMeta;
  items: MemberObject[];
}

/** The collection path; without a namespace it spans all namespaces. */
export function membersPath(namespace: string | undefined): string {
  return namespace === undefined
    ? `/apis/${GROUP}/${VERSION}/${PLURAL}`
    : `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}`;
}

export function memberPath(namespace: string, name: string): string {
  return `${membersPath(namespace)}/${encodeURIComponent(name)}`;
}

export const CRD_PATH = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`;
