/**
 * Whether a stored object fits a CRD's structural schema, judged as the API server judges it: what its
 * validation would refuse at the object's next write, and what its pruning would drop. Only the parts of
 * OpenAPI that a structural schema allows and crds/member.yaml uses are read; nothing here talks to a cluster.
 */
export interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  nullable?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

export type Misfit =
  | { path: string; kind: 'type'; expected: string; value: unknown }
  | { path: string; kind: 'minLength' | 'maxLength'; limit: number; length: number; value: string }
  | { path: string; kind: 'pattern'; pattern: string; value: string }
  | { path: string; kind: 'format'; format: string; value: unknown }
  /** Pruned: `knownAt` names where the schema has a field of that name, as for a memberOf outside spec. */
  | { path: string; kind: 'unknown'; value: unknown; knownAt: string | undefined };

/** Kept on every object whatever the schema says. */
const ALWAYS_KEPT = new Set(['apiVersion', 'kind', 'metadata']);

// RFC 3339, as the API server's date-time format reads it.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export class SchemaFit {
  private readonly patterns = new Map<string, RegExp>();
  private readonly knownPaths = new Map<string, string>();

  constructor(private readonly root: SchemaNode) {
    this.indexNames(root, '');
  }

  /** Everything about `object` that the schema refuses or would drop, in document order. */
  misfits(object: Record<string, unknown>): Misfit[] {
    return Object.entries(object).flatMap(([key, value]) => (ALWAYS_KEPT.has(key) ? [] : this.field(this.root, key, value, key)));
  }

  private field(parent: SchemaNode, key: string, value: unknown, path: string): Misfit[] {
    const known = parent.properties?.[key] ?? (typeof parent.additionalProperties === 'object' ? parent.additionalProperties : undefined);
    if (known !== undefined) return this.value(known, value, path);
    return keepsUnknown(parent) ? [] : [{ path, kind: 'unknown', value, knownAt: this.knownPaths.get(key) }];
  }

  private value(node: SchemaNode, value: unknown, path: string): Misfit[] {
    // A null where the schema allows none is dropped (or defaulted) by the API server: nothing is lost.
    if (value === null) return [];
    const actual = jsonType(value);
    if (node.type !== undefined && !typeMatches(node.type, actual, value)) return [{ path, kind: 'type', expected: node.type, value }];
    if (typeof value === 'string') return this.string(node, value, path);
    const { items } = node;
    if (Array.isArray(value)) return items === undefined ? [] : value.flatMap((item, i) => this.value(items, item, `${path}[${i}]`));
    if (actual !== 'object') return [];
    return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => this.field(node, key, child, `${path}.${key}`));
  }

  private string(node: SchemaNode, value: string, path: string): Misfit[] {
    const found: Misfit[] = [];
    // The API server counts characters (code points), not UTF-16 units.
    const length = [...value].length;
    if (node.minLength !== undefined && length < node.minLength)
      found.push({ path, kind: 'minLength', limit: node.minLength, length, value });
    if (node.maxLength !== undefined && length > node.maxLength)
      found.push({ path, kind: 'maxLength', limit: node.maxLength, length, value });
    if (node.pattern !== undefined && !this.pattern(node.pattern).test(value))
      found.push({ path, kind: 'pattern', pattern: node.pattern, value });
    if (node.format === 'date-time' && !DATE_TIME.test(value)) found.push({ path, kind: 'format', format: node.format, value });
    return found;
  }

  private pattern(source: string): RegExp {
    let compiled = this.patterns.get(source);
    if (compiled === undefined) {
      compiled = new RegExp(source, 'u');
      this.patterns.set(source, compiled);
    }
    return compiled;
  }

  /** Where each field name lives in the schema (the first place met), to say where a misplaced field belongs. */
  private indexNames(node: SchemaNode, path: string): void {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (!this.knownPaths.has(key)) this.knownPaths.set(key, childPath);
      this.indexNames(child, childPath);
    }
  }
}

function keepsUnknown(node: SchemaNode): boolean {
  return node['x-kubernetes-preserve-unknown-fields'] === true || node.additionalProperties === true;
}

export function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

function typeMatches(expected: string, actual: string, value: unknown): boolean {
  if (expected === 'integer') return Number.isInteger(value);
  return expected === actual;
}
