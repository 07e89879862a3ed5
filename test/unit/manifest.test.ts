import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memberManifest, parseMemberDocuments } from '../../src/members/manifest.js';
import { CliError, ExitCode } from '../../src/errors.js';

const member = (name: string, team?: string): string =>
  `apiVersion: helloworld.apimeister.com/v1\nkind: Member\nmetadata:\n  name: ${name}\n${team ? `spec:\n  memberOf: ${team}\n` : ''}`;

test('a multi-document file yields one draft per Member', async () => {
  const parsed = await parseMemberDocuments(`${member('patrick', 'blue')}---\n${member('sandy')}`, 'f.yaml');
  assert.deepEqual(
    parsed.map((p) => p.draft),
    [
      { name: 'patrick', namespace: undefined, team: 'blue', labels: undefined },
      { name: 'sandy', namespace: undefined, team: undefined, labels: undefined },
    ],
  );
});

test('JSON and Lists are read too', async () => {
  const list = JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [{ apiVersion: 'helloworld.apimeister.com/v1', kind: 'Member', metadata: { name: 'a', namespace: 'crew' } }],
  });
  const [only] = await parseMemberDocuments(list, 'f.json');
  assert.equal(only?.where, 'f.json document 1 item 1');
  assert.equal(only?.draft?.namespace, 'crew');
});

test('each bad document is named with its reason', async () => {
  const text = [
    member('good'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n',
    member('Bad'),
    member('t', '"x\\u001b[2J"'),
    `${member('u')}spec:\n  memberOf: blue\n  boss: true\n`,
  ].join('---\n');
  const problems = (await parseMemberDocuments(text, 'f.yaml')).map((p) => (p.problem === undefined ? 'ok' : `${p.where}: ${p.problem}`));
  assert.equal(problems[0], 'ok');
  assert.match(problems[1] ?? '', /^f.yaml document 2: not a Member/);
  assert.match(problems[2] ?? '', /^f.yaml document 3: member "Bad": a name must consist/);
  assert.match(problems[3] ?? '', /^f.yaml document 4: member "t": a team must not contain control characters/);
  assert.match(problems[4] ?? '', /document 5: .*(duplicated mapping key|unknown field spec.boss)/);
});

test('a YAML syntax error names the document and line and rejects the whole file', async () => {
  const text = `${member('a')}---\n${member('b')}  bad: [unclosed\n`;
  await assert.rejects(
    parseMemberDocuments(text, 'f.yaml'),
    (err: unknown) =>
      err instanceof CliError && err.exitCode === ExitCode.Usage && /f.yaml document 2: invalid YAML at line \d+/.test(err.message),
  );
});

test('the apply body holds only the fields we own', () => {
  assert.deepEqual(memberManifest({ name: 'p', team: 'blue', labels: { role: 'lead' } }, 'ns'), {
    apiVersion: 'helloworld.apimeister.com/v1',
    kind: 'Member',
    metadata: { name: 'p', namespace: 'ns', labels: { role: 'lead' } },
    spec: { memberOf: 'blue' },
  });
  assert.equal(memberManifest({ name: 'p' }, 'ns').spec, undefined);
});
