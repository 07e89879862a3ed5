import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CASES } from '../integration/kubectl-matrix-cases.js';

// docs/kubeconfig.md's side-by-side table is the matrix's result as the suite checks it: every case, under its
// section, "identical" or "different: " and the case's own reason, nothing else.

const DOC = new URL('../../docs/kubeconfig.md', import.meta.url);

/** `section: case` → the Result cell, from the tables under "## Side by side with kubectl". */
function documented(): Map<string, string> {
  const text = readFileSync(DOC, 'utf8');
  const part = text.slice(text.indexOf('## Side by side with kubectl'));
  const rows = new Map<string, string>();
  let section = '';
  for (const line of part.split('\n')) {
    const heading = /^### (.+)$/.exec(line);
    if (heading) section = heading[1] ?? '';
    const cells = /^\| (.+) \| (.+) \|$/.exec(line);
    if (!cells || cells[1] === 'Case' || cells[1]?.startsWith('---')) continue;
    // Markdown escapes a lone asterisk
    rows.set(`${section}: ${(cells[1] ?? '').replaceAll('\\*', '*')}`, cells[2] ?? '');
  }
  return rows;
}

test("docs/kubeconfig.md's table has every side-by-side case, with the result the suite checks", () => {
  const rows = documented();
  assert.deepEqual([...rows.keys()].sort(), CASES.map((c) => `${c.section}: ${c.name}`).sort());
  for (const c of CASES) {
    const result = rows.get(`${c.section}: ${c.name}`) ?? '';
    if (c.differs === undefined) assert.match(result, /^identical( \(.+\))?$/, `${c.section}: ${c.name}`);
    else assert.equal(result, `different: ${c.differs}`, `${c.section}: ${c.name}`);
  }
});
