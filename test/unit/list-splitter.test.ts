import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnexpectedAnswer } from '../../src/kube/failures.js';
import { ListSplitter } from '../../src/kube/list-splitter.js';

const items = [
  { metadata: { name: 'patrick', annotations: { note: 'braces } ] { [ and "quotes" \\ and \\"' } }, spec: { memberOf: 'blue' } },
  { metadata: { name: 'items', labels: { '"items"': '[1]' } }, spec: { memberOf: 'grün 🟢' }, list: [[], [{}], 'a\\'] },
  { metadata: { name: 'nobody' }, spec: {} },
];
const metadata = { resourceVersion: '4711', continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ' };
// The API server's order: items before metadata, so resourceVersion and continue come last.
const text = JSON.stringify({ apiVersion: 'helloworld.apimeister.com/v1', items, kind: 'MemberList', metadata }, null, 1);

function split(chunks: string[]): { items: unknown[]; rest: unknown } {
  const splitter = new ListSplitter();
  const found = chunks.flatMap((chunk) => splitter.push(chunk)).map((item) => JSON.parse(item) as unknown);
  return { items: found, rest: JSON.parse(splitter.end()) };
}

test('items come out one by one, and the rest of the list keeps its metadata', () => {
  const { items: found, rest } = split([text]);
  assert.deepEqual(found, items);
  assert.deepEqual(rest, { apiVersion: 'helloworld.apimeister.com/v1', items: [], kind: 'MemberList', metadata });
});

test('the same result wherever the chunks are cut, in strings, escapes and between items', () => {
  const whole = split([text]);
  for (let cut = 1; cut < text.length; cut++) {
    assert.deepEqual(split([text.slice(0, cut), text.slice(cut)]), whole, `cut at ${cut}`);
  }
  assert.deepEqual(split([...text]), whole, 'one character at a time');
});

test('an empty list and a compact one', () => {
  assert.deepEqual(split(['{"apiVersion":"v1","kind":"MemberList","items":[],"metadata":{"resourceVersion":"1"}}']).items, []);
  assert.deepEqual(split(['{"apiVersion":"v1","kind":"List","items":[{"a":1},{"b":[2]}],"metadata":{}}']), {
    items: [{ a: 1 }, { b: [2] }],
    rest: { apiVersion: 'v1', kind: 'List', items: [], metadata: {} },
  });
});

test('a response whose JSON is cut short is an error, not a shorter list', () => {
  for (const cut of [0, 10, text.indexOf('nobody'), text.length - 2]) {
    const splitter = new ListSplitter();
    splitter.push(text.slice(0, cut));
    assert.throws(() => splitter.end(), UnexpectedAnswer, `cut at ${cut}`);
  }
});
