import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileProblem, unreadableFile } from '../../src/errors.js';

function failureOf(read: () => unknown): unknown {
  try {
    read();
  } catch (err) {
    return err;
  }
  throw new Error('the read did not fail');
}

test('a file that cannot be read is said in words, never as a bare error code', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const plain = join(dir, 'plain');
  writeFileSync(plain, 'x');

  const missing = join(dir, 'missing.yaml');
  assert.equal(
    unreadableFile(
      missing,
      failureOf(() => readFileSync(missing)),
    ),
    `file ${missing} does not exist`,
  );
  assert.equal(
    unreadableFile(
      dir,
      failureOf(() => readFileSync(dir)),
    ),
    `cannot read ${dir}: it is a folder, not a file`,
  );
  const under = join(plain, 'below');
  assert.equal(fileProblem(failureOf(() => readFileSync(under))), 'a part of its path is not a folder');
  // A code with no words of its own is still named, so that it can be looked up.
  assert.equal(fileProblem(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })), 'EMFILE');
  assert.equal(fileProblem(new Error('something else')), 'something else');
});
