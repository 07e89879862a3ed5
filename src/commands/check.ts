import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.js';
import { members } from '../members/names.js';
import { runContext } from './context.js';

export function checkCommand(): Command {
  return new Command('check')
    .description('check that every Member fits the schema of the CRD install-crd installs (exit 2 when some do not)')
    .addHelpText(
      'after',
      `
Every namespace is checked unless -n is given. Each problem is one line on stdout:
NAMESPACE/NAME: FIELD: what is wrong. Members stored before the schema was installed keep what it refuses
(a team that is not a string, empty, too long or with control characters) until their next write, which fails.

Examples:
  member-watch check
  member-watch check -n crew`,
    )
    .action(async (_options: unknown, cmd: Command) => {
      const ctx = runContext(cmd);
      const [crd, { checkMembers }, fit] = await Promise.all([
        import('../members/crd.js'),
        import('../members/check.js'),
        import('../present/fit.js'),
      ]);
      const schema = crd.storageSchema(await crd.parseCrdManifest(await crd.readCrdManifest()));
      if (schema === undefined) throw new CliError(ExitCode.Internal, `${crd.CRD_FILE} has no schema for its storage version`);
      const kube = await ctx.kube();
      // Reading the CRD takes a right that checking members does not: without it, the listing below still tells
      // whether the CRD is there, and the hint assumes the schema is installed (its fix works either way).
      const installed = await crd.getCrd(kube).catch(() => undefined);
      const migrated = installed === undefined || crd.prunesOnRead(installed);
      if (installed !== undefined && migrated) {
        ctx.term.notice(
          'the installed CRD drops the fields its schema does not know from what it returns: such fields cannot be seen here',
        );
      }
      const namespace = ctx.namespaceFlag;
      const report = await checkMembers(kube, schema, namespace);
      for (const line of fit.misfitLines(report.misfits)) ctx.term.result(line);
      const where = namespace === undefined ? 'in every namespace' : `in namespace ${namespace}`;
      if (report.misfits.length === 0) {
        ctx.term.notice(`${members(report.checked)} checked ${where}: every one fits the schema`);
        return;
      }
      const verb = report.misfits.length === 1 ? 'does' : 'do';
      throw new CliError(ExitCode.Usage, `${report.misfits.length} of ${members(report.checked)} ${where} ${verb} not fit the schema`, {
        hint: fit.fixHint(migrated, report.misfits),
      });
    });
}
