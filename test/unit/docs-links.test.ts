// Every relative link in README.md and docs/ points at a file that exists and, with an #anchor, at one of its
// headings: the reference moved out of the README, and a moved section must not leave a dead link behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped (hyphens and underscores kept), spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1] ?? '')));
}

function linksOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '').filter((l) => !/^[a-z]+:/.test(l));
}

test('anchors are made as GitHub makes them', () => {
  assert.equal(anchorOf('`uninstall-crd --yes`'), 'uninstall-crd---yes');
  assert.equal(anchorOf('API calls (what its Role must allow, and nothing more)'), 'api-calls-what-its-role-must-allow-and-nothing-more');
  assert.equal(anchorOf('`completion bash|zsh|fish`'), 'completion-bashzshfish');
});

test('every relative link in the README and docs/ resolves to a file and a heading', () => {
  const dead: string[] = [];
  for (const page of PAGES) {
    for (const link of linksOf(join(ROOT, page))) {
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? join(ROOT, page) : join(ROOT, dirname(page), path);
      if (!existsSync(target)) dead.push(`${page}: ${link} (no file ${relative(ROOT, target)})`);
      else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor)) {
        dead.push(`${page}: ${link} (no heading #${anchor} in ${relative(ROOT, target)})`);
      }
    }
  }
  assert.deepEqual(dead, []);
});
