import yaml from 'js-yaml';
import { YamlScalar } from './yaml-scalar.js';

// kubectl reads YAML with sigs.k8s.io/yaml, which resolves plain scalars as go-yaml v2 does (YAML 1.1 rules):
// these words are booleans and nulls, other words are strings. Timestamps stay strings (go-yaml v2 keeps
// them as text when decoding into an untyped value), so `memberOf: 2024-01-01` is the team "2024-01-01".
const BOOLEANS = new Map<string, boolean>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((w): [string, boolean] => [w, true]),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map((w): [string, boolean] => [w, false]),
]);
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const SPECIAL_FLOATS = new Map<string, number>([
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((w): [string, number] => [w, Number.POSITIVE_INFINITY]),
  ...['-.inf', '-.Inf', '-.INF'].map((w): [string, number] => [w, Number.NEGATIVE_INFINITY]),
  ...['.nan', '.NaN', '.NAN'].map((w): [string, number] => [w, Number.NaN]),
]);
// go-yaml v2's yamlStyleFloat, tried on the text without underscores once Go's ParseInt has refused it.
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
// What Go's ParseFloat takes from a scalar that starts with a dot (go-yaml v2 hands those to it directly).
const DOT_FLOAT = /^\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?$/;
// Go's ParseInt with base 0: 0x, 0o, 0b prefixes, a leading 0 for octal, an optional sign.
const GO_INT = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

type GoNumber = { kind: 'int' | 'float'; value: number };

/** The number go-yaml v2 makes of a plain scalar, or undefined when it stays a string. */
function goYamlNumber(text: string): GoNumber | undefined {
  const special = SPECIAL_FLOATS.get(text);
  if (special !== undefined) return { kind: 'float', value: special };
  if (text.startsWith('.')) return DOT_FLOAT.test(text) ? { kind: 'float', value: Number(text.replaceAll('_', '')) } : undefined;
  if (!/^[-+0-9]/.test(text)) return undefined;
  const plain = text.replaceAll('_', '');
  const int = goInt(plain);
  if (int !== undefined) return { kind: 'int', value: int };
  return YAML_FLOAT.test(plain) ? { kind: 'float', value: Number(plain) } : undefined;
}

/** ParseInt(text, 0, 64), then ParseUint for what only fits unsigned. */
function goInt(plain: string): number | undefined {
  const match = GO_INT.exec(plain);
  if (match === null) return undefined;
  const [, sign, digits = ''] = match;
  const octal = /^0[0-7]+$/.test(digits) ? `0o${digits.slice(1)}` : digits;
  const magnitude = BigInt(octal.replace(/^0[XOB]/, (p) => p.toLowerCase()));
  const value = sign === '-' ? -magnitude : magnitude;
  if (value < INT64_MIN || value > UINT64_MAX) return undefined;
  return Number(value);
}

function scalarType(tag: string, resolve: (text: string) => YamlScalar | undefined): yaml.Type {
  return new yaml.Type(`tag:yaml.org,2002:${tag}`, {
    kind: 'scalar',
    resolve: (data: string | null) => data !== null && resolve(data) !== undefined,
    construct: (data: string) => resolve(data),
  });
}

const nullType = new yaml.Type('tag:yaml.org,2002:null', {
  kind: 'scalar',
  resolve: (data: string | null) => data === null || NULLS.has(data),
  construct: () => null,
});

const boolType = scalarType('bool', (text) => {
  const value = BOOLEANS.get(text);
  return value === undefined ? undefined : new YamlScalar('boolean', value, text);
});

const numberType = (kind: 'int' | 'float'): yaml.Type =>
  scalarType(kind, (text) => {
    const number = goYamlNumber(text);
    return number?.kind === kind ? new YamlScalar('number', number.value, text) : undefined;
  });

// js-yaml's own merge type, which its typings do not export: a `<<` key merges mappings, as in go-yaml.
const mergeType = new yaml.Type('tag:yaml.org,2002:merge', {
  kind: 'scalar',
  resolve: (data: string | null) => data === '<<' || data === null,
});

/** A js-yaml schema that reads plain scalars as kubectl does. */
const KUBECTL_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [nullType, boolType, numberType('int'), numberType('float'), mergeType],
});

export function loadAllAsKubectl(text: string): unknown[] {
  return yaml.loadAll(text, null, { schema: KUBECTL_SCHEMA });
}

/**
 * The first document only, as kubectl reads a kubeconfig (go-yaml decodes one document and stops): what follows
 * it is not even parsed. A key given twice keeps its last value, as go-yaml's non-strict decoding does.
 */
export function loadFirstAsKubectl(text: string): unknown {
  return yaml.load(firstDocument(text), { schema: KUBECTL_SCHEMA, json: true });
}

const DOCUMENT_START = /^---(\s|$)/;
const DOCUMENT_END = /^\.\.\.(\s|$)/;
/** Blank lines, comments and directives (`%YAML 1.1`) come before a document without starting it. */
const NOT_CONTENT = /^(\s*(#.*)?|%.*)$/;

/**
 * The text of the stream's first document. Markers are found line by line: YAML forbids `---` and `...` at the
 * start of a line inside a document, so a line that starts with one is a boundary wherever it is.
 */
function firstDocument(text: string): string {
  const lines = text.split('\n');
  let started = false;
  for (const [i, line] of lines.entries()) {
    const start = DOCUMENT_START.test(line);
    if (started && (start || DOCUMENT_END.test(line))) return lines.slice(0, i).join('\n');
    if (start || !NOT_CONTENT.test(line)) started = true;
  }
  return text;
}
