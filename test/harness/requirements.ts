// What a test needs beyond Node and a control plane, and what happens where it is missing: the test is skipped with
// the reason, which the summary shows and counts, never passed without running.
//
// - A server that lacks something (1.20.2 has no controller manager, so nothing deletes a namespace's content or
//   collects garbage; nor does it stream lists): skipped there, on CI too, since that is what the version is.
// - A tool that is not installed (zsh, fish, tmux): skipped on a developer's machine, so that a fresh clone's
//   `npm test` passes; a failure under CI=true, where .ci/run installs every tool, so that nothing is skipped
//   there for want of one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assetsVersion, resolveAssets } from './control-plane.js';

/** Options for node:test's `test()` and `describe()`: empty, or the reason it is skipped. */
export interface Requirement {
  skip?: string;
}

const RUNS: Requirement = {};

function installed(tool: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status === 0;
}

/** Skipped where one of `tools` is not on PATH; under CI=true it throws instead, failing the file that asks. */
export function needsTools(...tools: string[]): Requirement {
  const missing = tools.filter((tool) => !installed(tool));
  if (missing.length === 0) return RUNS;
  const what = `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not installed`;
  if (process.env['CI'] === 'true') throw new Error(`${what}: under CI no test is skipped for a missing tool (.ci/run installs them)`);
  return { skip: `needs ${tools.join(', ')}: ${what} (apt-get install ${missing.join(' ')})` };
}

/**
 * Skipped where the control plane has no kube-controller-manager (the 1.20.2 assets): there a deleted namespace
 * stays Terminating and nothing is garbage-collected, whatever member-watch does.
 */
export function needsControllerManager(): Requirement {
  if (existsSync(join(resolveAssets(), 'kube-controller-manager'))) return RUNS;
  return {
    skip: `needs a kube-controller-manager (namespace deletion, garbage collection): kube-apiserver ${assetsVersion().gitVersion}'s assets have none`,
  };
}

/**
 * Skipped where kube-apiserver does not stream lists (a watch with sendInitialEvents): its WatchList feature is on by
 * default in 1.32 and from 1.34 on; 1.20.2 refuses the parameters with HTTP 422, before any initial event.
 */
export function needsStreamedLists(): Requirement {
  const { gitVersion, minor } = assetsVersion();
  if (minor === 32 || minor >= 34) return RUNS;
  return { skip: `needs a server that streams lists (sendInitialEvents): kube-apiserver ${gitVersion} refuses them (HTTP 422)` };
}
