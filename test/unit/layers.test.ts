// Arrows point down: API → kube → members → watcher → events → renderer, with commands and the operator on top.
// A lower folder that imports a higher one compiles and runs, so only a test keeps the layers apart.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** For each folder, the folders (and top-level files) of src/ it may import from, besides itself. */
const ALLOWED: Record<string, string[]> = {
  kube: ['errors.ts'],
  members: ['errors.ts', 'paths.ts', 'kube'],
  watcher: ['errors.ts', 'kube', 'members'],
};

function importsOf(folder: string): Array<{ file: string; target: string }> {
  return readdirSync(join(SRC, folder))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((file) => {
      const text = readFileSync(join(SRC, folder, file), 'utf8');
      return [...text.matchAll(/from '\.\.\/([^'/]+)/g)].map((m) => ({
        file: `${folder}/${file}`,
        target: (m[1] ?? '').replace(/\.js$/, '.ts'),
      }));
    });
}

for (const [folder, allowed] of Object.entries(ALLOWED)) {
  test(`src/${folder} imports nothing above it`, () => {
    const wrong = importsOf(folder).filter(({ target }) => !allowed.includes(target));
    assert.deepEqual(
      wrong.map(({ file, target }) => `${file} imports ${target}`),
      [],
    );
  });
}
