import { Command, Option } from 'commander';
import { CliError, ExitCode } from '../errors.js';
import { CRD_NAME } from '../members/resource.js';
import { formatChange } from '../present/diff.js';
import { runContext } from './context.js';
import { parseDuration } from './parse.js';

interface InstallOptions {
  timeout: number;
  wait: boolean;
  dryRun?: boolean;
  print?: boolean;
}

export function installCrdCommand(): Command {
  return new Command('install-crd')
    .description('install or update the Member CustomResourceDefinition (server-side apply) and wait until it is served')
    .addOption(
      new Option('--timeout <duration>', 'how long to wait for the CRD to be established').default(60_000, '60s').argParser(parseDuration),
    )
    .option('--no-wait', 'return as soon as the API server accepted the CRD')
    .option('--dry-run', 'server-side dry run: print what would change, change nothing')
    .option('--print', 'print the manifest to stdout and contact no cluster')
    .addHelpText(
      'after',
      `
Examples:
  member-watch install-crd
  member-watch install-crd --dry-run
  member-watch install-crd --print | kubectl apply -f -`,
    )
    .action(async (options: InstallOptions, cmd: Command) => {
      const ctx = runContext(cmd);
      const crd = await import('../members/crd.js');
      const manifest = await crd.readCrdManifest();
      if (options.print) {
        ctx.term.stdout.write(manifest);
        return;
      }
      const kube = await ctx.kube();
      const result = await crd.applyCrd(kube, manifest, options.dryRun === true);
      const label = `customresourcedefinition ${CRD_NAME}`;
      if (options.dryRun) {
        ctx.term.result(`${label} would be ${result.outcome} (server dry run)`);
        for (const change of result.changes) ctx.term.result(`  ${formatChange(change)}`);
        return;
      }
      if (options.wait) {
        const progress = await ctx.term.progress(`${label} ${result.outcome}`);
        try {
          await crd.waitForCrd(kube, options.timeout, (step) => progress.update(step));
        } catch (err) {
          progress.fail(`${label} not ready`);
          throw err;
        }
        progress.stop();
      }
      ctx.term.result(`${label} ${result.outcome}`);
    });
}

interface UninstallOptions {
  yes?: boolean;
  wait: boolean;
  timeout: number;
}

export function uninstallCrdCommand(): Command {
  return new Command('uninstall-crd')
    .description('delete the Member CustomResourceDefinition, and with it every Member in every namespace')
    .option('--yes', 'confirm: every Member in the cluster is deleted with the CRD')
    .option('--no-wait', 'return as soon as the deletion was accepted')
    .addOption(
      new Option('--timeout <duration>', 'how long to wait for the CRD to be gone').default(60_000, '60s').argParser(parseDuration),
    )
    .addHelpText('after', '\nExample:\n  member-watch uninstall-crd --yes')
    .action(async (options: UninstallOptions, cmd: Command) => {
      const ctx = runContext(cmd);
      if (!options.yes) {
        throw new CliError(ExitCode.Usage, 'uninstall-crd deletes every Member in every namespace; refusing without --yes', {
          hint: 'run `member-watch uninstall-crd --yes` to confirm',
        });
      }
      const { deleteCrd } = await import('../members/crd.js');
      const kube = await ctx.kube();
      const progress = await ctx.term.progress(`deleting customresourcedefinition ${CRD_NAME}`);
      try {
        await deleteCrd(kube, options.timeout, options.wait);
      } finally {
        progress.stop();
      }
      ctx.term.result(`customresourcedefinition ${CRD_NAME} deleted`);
    });
}
