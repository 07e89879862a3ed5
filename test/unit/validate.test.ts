import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labelProblem, nameProblem, teamProblem } from '../../src/members/validate.js';
import { collectLabel, parseDuration, parsePositiveInt, streamsLists } from '../../src/commands/parse.js';

test('member names follow the DNS-1123 subdomain rule', () => {
  for (const ok of ['patrick', 'a', 'p-1', 'team.lead', 'x'.repeat(253)]) assert.equal(nameProblem(ok), undefined, ok);
  assert.match(nameProblem('') ?? '', /must not be empty/);
  assert.match(nameProblem('Patrick') ?? '', /lowercase/);
  assert.match(nameProblem('..') ?? '', /lowercase/);
  assert.match(nameProblem('-p') ?? '', /start and end/);
  assert.match(nameProblem('p_q') ?? '', /lowercase/);
  assert.match(nameProblem('x'.repeat(254)) ?? '', /at most 253 characters \(it has 254\)/);
});

test('teams are short and free of control characters', () => {
  assert.equal(teamProblem('blue'), undefined);
  assert.equal(teamProblem('the blue ones 🙂'), undefined);
  assert.match(teamProblem('') ?? '', /must not be empty/);
  assert.match(teamProblem('x'.repeat(64)) ?? '', /at most 63/);
  assert.match(teamProblem('blue\u001b[31m') ?? '', /control characters/);
  assert.match(teamProblem('a\nb') ?? '', /control characters/);
});

test('a team is measured in characters, as the API server counts maxLength, not in UTF-16 units', () => {
  assert.equal(teamProblem('🙂'.repeat(63)), undefined);
  assert.match(teamProblem('🙂'.repeat(64)) ?? '', /at most 63 characters \(it has 64\)/);
  assert.equal(teamProblem('é'.repeat(63)), undefined);
});

test('labels follow the Kubernetes label syntax', () => {
  assert.equal(labelProblem('role', 'lead'), undefined);
  assert.equal(labelProblem('example.com/role', ''), undefined);
  assert.match(labelProblem('bad key', 'x') ?? '', /label key/);
  assert.match(labelProblem('role', 'x y') ?? '', /label value/);
  assert.match(labelProblem('Bad_Prefix/role', 'x') ?? '', /invalid prefix/);
  assert.deepEqual(collectLabel('b=2', collectLabel('a=1')), { a: '1', b: '2' });
  assert.throws(() => collectLabel('novalue'), /not a label/);
});

test('durations read like kubectl durations', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('0'), 0);
  for (const bad of ['', '3', '3x', 's', '-1s', '1 s']) assert.throws(() => parseDuration(bad), /not a duration/, bad);
});

test('counts are positive whole numbers', () => {
  assert.equal(parsePositiveInt('5'), 5);
  for (const bad of ['0', '-1', '1.5', 'x', '']) assert.throws(() => parsePositiveInt(bad), /positive whole number/, bad);
});

test('KUBE_FEATURE_WatchListClient reads as client-go reads it (Go booleans); unset or empty: paged lists', () => {
  const reads = (value: string | undefined): boolean => streamsLists({ KUBE_FEATURE_WatchListClient: value });
  for (const yes of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(reads(yes), true, yes);
  for (const no of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(reads(no), false, no);
  // Paged unless asked for: bench/streamed-list.ts found them faster on kube-apiserver 1.37.
  assert.equal(reads(undefined), false);
  assert.equal(reads(''), false);
  for (const bad of ['yes', 'no', 'tRUE', ' true', 'constructor', '2']) {
    assert.throws(() => reads(bad), /KUBE_FEATURE_WatchListClient=".*" is neither true nor false/, bad);
  }
});
