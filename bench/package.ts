// What installing the package costs a user: size on disk, packages pulled in, and the time of a first
// `npx --package=TARBALL member-watch --version` with an empty npm cache (so every dependency is downloaded).
//
//   node --import tsx bench/package.ts [--runs 3] [TARBALL...]
//
// Without a tarball it packs this checkout (`npm pack` builds through prepack). Several tarballs are measured in
// turns, so a slow moment of the registry or the machine hits each of them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { childEnv, median, ms, progress, ratio, REPO_ROOT, timeProcess } from './lib.js';

interface PackageFigures {
  tarball: string;
  installedBytes: number;
  diskKiB: number;
  packages: number;
  installMs: number[];
  npxMs: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const scratch = mkdtempSync(join(tmpdir(), 'member-watch-bench-package-'));

try {
  const tarballs = positionals.length > 0 ? positionals : [packCheckout()];
  const figures: PackageFigures[] = tarballs.map((tarball) => ({
    tarball,
    installedBytes: 0,
    diskKiB: 0,
    packages: 0,
    installMs: [],
    npxMs: [],
  }));
  for (let run = 0; run < runs; run++) {
    for (const f of figures) await measureOnce(f, run);
  }
  process.stdout.write(report(figures));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

function packCheckout(): string {
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], {
    cwd: REPO_ROOT,
    env: childEnv(),
    encoding: 'utf8',
  });
  return join(scratch, out.trim().split('\n').pop() ?? '');
}

async function measureOnce(f: PackageFigures, run: number): Promise<void> {
  const prefix = join(scratch, `prefix-${run}-${basename(f.tarball)}`);
  const npm = (cache: string): string[] => ['--cache', cache, '--no-audit', '--no-fund', '--loglevel=error'];
  f.installMs.push(await timeProcess({ file: 'npm', args: ['install', '-g', '--prefix', prefix, ...npm(freshDir('cache')), f.tarball] }));
  f.installedBytes = du(['-sb', prefix]);
  f.diskKiB = du(['-sk', prefix]);
  f.packages = countPackages(join(prefix, 'lib', 'node_modules'));
  rmSync(prefix, { recursive: true, force: true });
  const cwd = freshDir('cwd');
  const npx = ['--yes', ...npm(freshDir('cache')), `--package=${f.tarball}`, 'member-watch', '--version'];
  // npx resolves a relative tarball against its working directory: give it an absolute one, from an empty folder.
  f.npxMs.push(await timeProcess({ file: 'sh', args: ['-c', 'cd "$0" && exec npx "$@"', cwd, ...npx] }));
  progress(`${basename(f.tarball)} run ${run + 1}: install ${ms(last(f.installMs))}, npx --version ${ms(last(f.npxMs))}`);
}

function du(args: string[]): number {
  return Number(execFileSync('du', args, { encoding: 'utf8' }).split('\t')[0]);
}

function freshDir(what: string): string {
  return mkdtempSync(join(scratch, `${what}-`));
}

/** Every installed package, nested ones included (the count `npm install` reports, plus the package itself). */
function countPackages(nodeModules: string): number {
  if (!existsSync(nodeModules)) return 0;
  let count = 0;
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    const dirs = entry.startsWith('@') ? readdirSync(join(nodeModules, entry)).map((e) => join(entry, e)) : [entry];
    for (const dir of dirs) {
      if (!existsSync(join(nodeModules, dir, 'package.json'))) continue;
      count += 1 + countPackages(join(nodeModules, dir, 'node_modules'));
    }
  }
  return count;
}

function last(values: number[]): number {
  return values[values.length - 1] ?? Number.NaN;
}

function report(figures: PackageFigures[]): string {
  const first = figures[0];
  const rows = figures.map((f) => {
    const npx = median(f.npxMs);
    return `| ${f.tarball} | ${(f.installedBytes / 1e6).toFixed(1)} MB | ${(f.diskKiB / 1024).toFixed(1)} MiB | ${f.packages} | ${ms(median(f.installMs))} | ${ms(npx)} | ${ratio(npx, median(first?.npxMs ?? []))} |`;
  });
  return [
    `Medians over ${runs} runs, each with an empty npm cache; Node ${process.version}.`,
    '',
    '| tarball | installed bytes (`du -sb`) | on disk (`du -sk`) | packages | `npm install -g` | `npx --version` | npx vs the first |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
