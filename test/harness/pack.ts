// The package as the Dockerfile installs it: `npm pack`, then the tarball installed with production dependencies
// only into an empty folder. What the image would hold, without an image.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeOnExit } from './control-plane.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The Dockerfile's install step; deploy.test.ts checks that the Dockerfile runs exactly this. */
export const PRODUCTION_INSTALL = ['install', '--omit=dev', '--no-audit', '--no-fund', '--no-save'];

export interface PackedInstall {
  /** The folder the tarball was installed into (the image's /app). */
  readonly app: string;
  /** The CLI's entry point inside it. */
  readonly bin: string;
  /** This process's node, linked (or copied) beside it: as the image has its own, readable by any uid. */
  readonly node: string;
  remove(): void;
}

function npm(args: string[], cwd: string): Promise<string> {
  return new Promise((res, rej) => {
    execFile('npm', args, { cwd, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`npm ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else res(stdout);
    });
  });
}

/** Hard-links `file` as `link` if the binary is readable and executable by every uid (a link shares its mode). */
function linkedForAll(file: string, link: string): boolean {
  if ((statSync(file).mode & 0o005) !== 0o005) return false;
  try {
    linkSync(file, link);
    return true;
  } catch {
    // another filesystem
    return false;
  }
}

/**
 * Packs the working tree and installs the tarball into a fresh folder that every uid can read (not write): an
 * unprivileged process can run it, as in the image. The npm cache answers when it can, so a test needs no registry.
 */
export async function installPacked(): Promise<PackedInstall> {
  const root = mkdtempSync(join(tmpdir(), 'member-watch-pack-'));
  removeOnExit(root);
  const remove = (): void => rmSync(root, { recursive: true, force: true });
  try {
    // the folder, not npm's output, says what was packed: a prepack script may print on the same stdout
    await npm(['pack', '--pack-destination', root], REPO_ROOT);
    const filename = readdirSync(root).find((f) => f.endsWith('.tgz'));
    if (filename === undefined) throw new Error(`npm pack left no tarball in ${root}`);
    const app = join(root, 'app');
    mkdirSync(app);
    // --prefix: without it npm would install into the nearest folder above that has a node_modules
    await npm([...PRODUCTION_INSTALL, '--prefix', app, '--prefer-offline', join(root, filename)], app);
    // node may live in a folder other uids cannot enter (CI's Node 24 is inside the clone): a hard link has the
    // binary's own mode, wherever it is
    const node = join(root, 'node');
    if (!linkedForAll(process.execPath, node)) {
      copyFileSync(process.execPath, node);
      chmodSync(node, 0o755);
    }
    chmodSync(root, 0o755);
    return { app, bin: join(app, 'node_modules', 'member-watch', 'bin', 'member-watch.js'), node, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
