import { usageError } from '../errors.js';
import { namespaceProblem } from '../kube/namespace.js';
import { YamlScalar } from '../kube/yaml-scalar.js';
import { API_VERSION, KIND, type MemberObject } from './resource.js';
import { labelProblem, nameProblem, teamProblem } from './validate.js';

/** What a user asks for: a Member by name, its team, its labels, maybe a namespace of its own. */
export interface MemberDraft {
  name: string;
  namespace?: string | undefined;
  team?: string | undefined;
  labels?: Record<string, string> | undefined;
}

/** The apply body: only the fields we own, so server-side apply leaves other managers' fields alone. */
export function memberManifest(draft: MemberDraft, namespace: string): MemberObject {
  const metadata: MemberObject['metadata'] = { name: draft.name, namespace };
  if (draft.labels !== undefined && Object.keys(draft.labels).length > 0) metadata.labels = draft.labels;
  const manifest: MemberObject = { apiVersion: API_VERSION, kind: KIND, metadata };
  // No team: leave spec out altogether. An empty spec would make server-side apply, dropping our
  // old memberOf, leave `spec: null`, which the schema rejects.
  if (draft.team !== undefined) manifest.spec = { memberOf: draft.team };
  return manifest;
}

/** One document of a file (or one item of a List in it), as good to apply or with the reason it is not. */
export type ParsedDocument =
  { where: string; draft: MemberDraft; problem?: undefined } | { where: string; draft?: undefined; problem: string };

/** Parses a multi-document YAML or JSON text of Members; a syntax error anywhere rejects the whole text. */
export async function parseMemberDocuments(text: string, source: string): Promise<ParsedDocument[]> {
  // Loaded here, not at start-up: only -f needs a YAML parser.
  const { loadAllAsKubectl } = await import('../kube/kubectl-yaml.js');
  let documents: unknown[];
  try {
    documents = loadAllAsKubectl(text);
  } catch (err) {
    throw usageError(describeSyntaxError(err, text, source), 'nothing was applied; fix the file and run again');
  }
  const parsed: ParsedDocument[] = [];
  documents.forEach((doc, i) => {
    if (doc === null || doc === undefined) return;
    const where = `${source} document ${i + 1}`;
    const items = listItems(doc);
    if (items === undefined) parsed.push(checkDocument(doc, where));
    else items.forEach((item, j) => parsed.push(checkDocument(item, `${where} item ${j + 1}`)));
  });
  return parsed;
}

function describeSyntaxError(err: unknown, text: string, source: string): string {
  const mark = (err as { mark?: { line?: number } }).mark;
  const reason = (err as { reason?: string }).reason ?? (err instanceof Error ? err.message : String(err));
  if (mark?.line === undefined) return `${source}: invalid YAML: ${reason}`;
  // Which document: count the separators above the failing line.
  const separators = text
    .split('\n')
    .slice(0, mark.line)
    .filter((line) => /^---(\s|$)/.test(line)).length;
  const startsWithSeparator = /^---(\s|$)/.test(text.trimStart());
  const document = separators + (startsWithSeparator ? 0 : 1);
  return `${source} document ${Math.max(document, 1)}: invalid YAML at line ${mark.line + 1}: ${reason}`;
}

function listItems(doc: unknown): unknown[] | undefined {
  if (!isRecord(doc) || !(doc.kind === 'List' || doc.kind === `${KIND}List`) || !Array.isArray(doc.items)) return undefined;
  return doc.items;
}

function checkDocument(doc: unknown, where: string): ParsedDocument {
  const result = toDraft(doc);
  return typeof result === 'string' ? { where, problem: result } : { where, draft: result };
}

function toDraft(doc: unknown): MemberDraft | string {
  if (!isRecord(doc)) return `not a YAML mapping but ${describe(doc)}`;
  if (doc.apiVersion !== API_VERSION || doc.kind !== KIND) {
    return `not a Member: expected apiVersion ${API_VERSION} and kind ${KIND}, found ${String(doc.apiVersion)} ${String(doc.kind)}`;
  }
  const unknown = Object.keys(doc).filter((k) => !['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k));
  if (unknown.length > 0) return `unknown field ${unknown[0]}`;
  return memberDraft(doc);
}

function memberDraft(doc: Record<string, unknown>): MemberDraft | string {
  const metadata = optionalMapping('metadata', doc.metadata);
  if (typeof metadata === 'string') return metadata;
  const name = metadata.name;
  if (typeof name !== 'string') return name === undefined || name === null ? 'metadata.name is missing' : wrongType('metadata.name', name);
  // A null is an absent field, as kubectl reads it.
  const namespace = metadata.namespace ?? undefined;
  const labels = metadata.labels ?? undefined;
  const problem = nameProblem(name) ?? namespaceFieldProblem(namespace) ?? labelsProblem(labels) ?? specProblem(doc.spec);
  if (problem !== undefined) return `member ${JSON.stringify(name)}: ${problem}`;
  return { name, namespace: namespace as string | undefined, team: teamOf(doc.spec), labels: labels as Record<string, string> | undefined };
}

function teamOf(spec: unknown): string | undefined {
  return isRecord(spec) && typeof spec.memberOf === 'string' ? spec.memberOf : undefined;
}

function optionalMapping(field: string, value: unknown): Record<string, unknown> | string {
  if (value === undefined || value === null) return {};
  return isRecord(value) ? value : `${field} must be a mapping, found ${describe(value)}`;
}

function namespaceFieldProblem(namespace: unknown): string | undefined {
  if (namespace === undefined) return undefined;
  if (typeof namespace !== 'string') return wrongType('metadata.namespace', namespace);
  if (namespaceProblem(namespace) !== undefined) return `metadata.namespace ${JSON.stringify(namespace)} is not a valid namespace name`;
  return undefined;
}

function labelsProblem(labels: unknown): string | undefined {
  if (labels === undefined) return undefined;
  if (!isRecord(labels)) return `metadata.labels must be a mapping, found ${describe(labels)}`;
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value !== 'string') return wrongType(`the value of label ${key}`, value);
    const problem = labelProblem(key, value);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function specProblem(spec: unknown): string | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isRecord(spec)) return `spec must be a mapping, found ${describe(spec)}`;
  const unknown = Object.keys(spec).filter((k) => k !== 'memberOf');
  if (unknown.length > 0) return `unknown field spec.${unknown[0]} (a Member has only spec.memberOf)`;
  if (spec.memberOf === undefined || spec.memberOf === null) return undefined;
  if (typeof spec.memberOf !== 'string') return wrongType('spec.memberOf', spec.memberOf);
  return teamProblem(spec.memberOf);
}

/** A number or boolean where text belongs: named with what was written, as kubectl would refuse it. */
function wrongType(field: string, value: unknown): string {
  const quote = value instanceof YamlScalar ? ` (quote it to keep it as text: "${value.source}")` : '';
  return `${field} must be a string, found ${describe(value)}${quote}`;
}

function describe(value: unknown): string {
  if (value instanceof YamlScalar) return value.describe();
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'a mapping' : `the ${typeof value} ${String(value)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof YamlScalar);
}
