import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.js';
import { members } from '../members/names.js';
import { FINALIZER } from '../members/resource.js';
import { runContext } from './context.js';

export function releaseFinalizersCommand(): Command {
  return new Command('release-finalizers')
    .description(`remove the operator's finalizer ${FINALIZER} from every Member that holds it, once the operator is gone`)
    .addHelpText(
      'after',
      `
Every namespace unless -n NAMESPACE is given. Stop the operator first (or run it with --no-finalizer):
a running operator adds the finalizer back. Other finalizers are left alone.

Examples:
  kubectl delete -k deploy/ && member-watch release-finalizers
  member-watch release-finalizers -n crew`,
    )
    .action(async (_options: unknown, cmd: Command) => {
      const ctx = runContext(cmd);
      const kube = await ctx.kube();
      const { releaseFinalizers } = await import('../members/finalizers.js');
      let released = 0;
      try {
        const report = await releaseFinalizers(kube, { namespace: ctx.namespaceFlag, onReleased: () => (released += 1) });
        for (const { namespace, name, message } of report.failed)
          ctx.term.warn(`could not remove finalizer ${FINALIZER} from ${namespace}/${name}: ${message}`);
        if (report.failed.length > 0) {
          throw new CliError(ExitCode.Cluster, `the API server kept finalizer ${FINALIZER} on ${members(report.failed.length)}`, {
            hint: 'the warnings above say why for each',
          });
        }
      } finally {
        // Said also when a later member failed: every removal made is reported.
        ctx.term.result(`finalizer ${FINALIZER} removed from ${members(released)}`);
      }
    });
}
