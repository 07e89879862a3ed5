import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The package as a user installs it: packed from a fresh clone, installed into an empty prefix. */
export interface PackedInstall {
  readonly tarball: string;
  /** `npm install -g --prefix` went here: bin/ holds the commands, lib/node_modules/member-watch the package. */
  readonly prefix: string;
  readonly packageDir: string;
  /** PATH with the installed commands first, then the node running the tests. */
  readonly path: string;
  /** An empty folder, far from the checkout, to run commands from. */
  readonly elsewhere: string;
  remove(): void;
}

/** npm as a child: its output is kept for the error message, the developer's npm settings are left alone. */
async function npm(args: string[], cwd: string): Promise<void> {
  try {
    await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/**
 * Clones the checkout's HEAD (what CI tests: committed work only), installs its dev dependencies with `npm ci`,
 * packs it with `npm pack` (prepack builds dist/), and installs the tarball globally into an empty prefix.
 */
export async function packFreshClone(): Promise<PackedInstall> {
  const dir = mkdtempSync(join(tmpdir(), 'member-watch-pack-'));
  try {
    const clone = join(dir, 'clone');
    await run('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, clone]);
    await npm(['ci', '--prefer-offline'], clone);
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: clone });
    const tarball = join(dir, stdout.trim().split('\n').pop() ?? '');
    if (!existsSync(tarball)) throw new Error(`npm pack made no ${tarball}: ${stdout}`);
    rmSync(clone, { recursive: true, force: true });
    const prefix = join(dir, 'prefix');
    const elsewhere = join(dir, 'elsewhere');
    await npm(['install', '--global', '--prefix', prefix, tarball], dir);
    mkdirSync(elsewhere);
    return {
      tarball,
      prefix,
      packageDir: join(prefix, 'lib', 'node_modules', 'member-watch'),
      path: `${join(prefix, 'bin')}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      elsewhere,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
