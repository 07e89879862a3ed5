import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAllAsKubectl } from '../../src/kube/kubectl-yaml.js';
import { parseMemberDocuments } from '../../src/members/manifest.js';
import { YamlScalar } from '../../src/kube/yaml-scalar.js';

// What kubectl v1.32 made of `memberOf: X` (kubectl create --dry-run=client -o json), recorded on 2026-11-26.
// A string stays a string; numbers and booleans are what go-yaml v2 (YAML 1.1 rules) reads.
const KUBECTL_READS: Array<[string, string | number | boolean | null]> = [
  ['2001-12-14', '2001-12-14'],
  ['2001-12-14T21:59:43.10-05:00', '2001-12-14T21:59:43.10-05:00'],
  ['12:30:00', '12:30:00'],
  ['190:20:30', '190:20:30'],
  ['yes', true],
  ['Yes', true],
  ['y', true],
  ['on', true],
  ['TRUE', true],
  ['no', false],
  ['n', false],
  ['off', false],
  ['123', 123],
  ['017', 15],
  ['0o17', 15],
  ['0x1F', 31],
  ['0X1F', 31],
  ['0b101', 5],
  ['0B1', 1],
  ['1_000', 1000],
  ['1__0', 10],
  ['0x_1F', 31],
  ['1e3', 1000],
  ['1.5', 1.5],
  ['+12', 12],
  ['-0', 0],
  ['00', 0],
  ['08', 8],
  ['09.5', 9.5],
  ['.5', 0.5],
  ['5.', 5],
  ['+.5e3', 500],
  ['~', null],
  ['null', null],
  ['Null', null],
  ['1e', '1e'],
  ['=', '='],
  ['<<', '<<'],
  ['+', '+'],
  ['.', '.'],
  ['.e1', '.e1'],
  ['Inf', 'Inf'],
  ['+inf', '+inf'],
  ['0xFFFFFFFFFFFFFFFFFF', '0xFFFFFFFFFFFFFFFFFF'],
];

test('plain scalars are read as kubectl reads them', () => {
  for (const [text, expected] of KUBECTL_READS) {
    const [doc] = loadAllAsKubectl(`memberOf: ${text}\n`) as Array<{ memberOf: unknown }>;
    const value = doc?.memberOf;
    const got = value instanceof YamlScalar ? value.value : value;
    assert.equal(got, expected, `memberOf: ${text}`);
    if (typeof expected !== 'string' && expected !== null) assert.equal((value as YamlScalar).source, text);
  }
});

test('quoted scalars and explicit !!str stay strings; non-string keys become the keys kubectl makes', () => {
  const [doc] = loadAllAsKubectl('a: "yes"\nb: !!str 017\nc: {yes: x, 123: y, 1.5: z}\n') as Array<Record<string, unknown>>;
  assert.equal(doc?.a, 'yes');
  assert.equal(doc?.b, '017');
  assert.deepEqual(Object.keys(doc?.c as object), ['123', 'true', '1.5']);
});

const member = (fields: string): string => `apiVersion: helloworld.apimeister.com/v1\nkind: Member\n${fields}`;

test('dates and times in names and teams are strings, as for kubectl', async () => {
  const [parsed] = await parseMemberDocuments(member('metadata:\n  name: 2001-12-14\nspec:\n  memberOf: 2024-01-01\n'), 'f.yaml');
  assert.deepEqual(parsed?.draft, { name: '2001-12-14', namespace: undefined, team: '2024-01-01', labels: undefined });
});

test('a number or boolean where a string belongs is named as a wrong type, with what was written', async () => {
  const cases: Array<[string, RegExp]> = [
    ['metadata:\n  name: 123\n', /^metadata.name must be a string, found the number 123 \(quote it to keep it as text: "123"\)$/],
    [
      'metadata:\n  name: x\nspec:\n  memberOf: yes\n',
      /spec.memberOf must be a string, found the boolean yes, which YAML reads as true \(quote it/,
    ],
    ['metadata:\n  name: x\nspec:\n  memberOf: 017\n', /found the number 017, which YAML reads as 15/],
    ['metadata:\n  name: x\n  namespace: 1e3\n', /metadata.namespace must be a string, found the number 1e3/],
    ['metadata:\n  name: x\n  labels:\n    on: off\n', /the value of label true must be a string, found the boolean off/],
    ['metadata: yes\n', /metadata must be a mapping, found the boolean yes/],
    ['metadata:\n  name: [a]\n', /metadata.name must be a string, found a list$/],
    ['metadata:\n  name: ~\n', /^metadata.name is missing$/],
  ];
  for (const [fields, pattern] of cases) {
    const [parsed] = await parseMemberDocuments(member(fields), 'f.yaml');
    assert.match(parsed?.problem ?? 'no problem', pattern, fields);
  }
});

test('null fields are absent fields', async () => {
  const [parsed] = await parseMemberDocuments(
    member('metadata:\n  name: x\n  namespace: null\n  labels: ~\nspec:\n  memberOf:\n'),
    'f.yaml',
  );
  assert.deepEqual(parsed?.draft, { name: 'x', namespace: undefined, team: undefined, labels: undefined });
});
