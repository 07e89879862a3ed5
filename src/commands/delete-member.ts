import { Command, Option } from 'commander';
import { CliError, ExitCode, usageError } from '../errors.js';
import { mapLimit } from '../kube/parallel.js';
import { checkName } from '../members/validate.js';
import { memberRef } from '../present/objects.js';
import { runContext } from './context.js';
import { parseDuration } from './parse.js';

interface DeleteOptions {
  all?: boolean;
  ignoreNotFound?: boolean;
  wait?: boolean;
  timeout: number;
}

export function deleteMemberCommand(): Command {
  return new Command('delete-member')
    .description('delete Members by name, or every Member in the namespace')
    .argument('[names...]', 'the Members to delete')
    .option('--all', 'delete every Member in the namespace')
    .option('--ignore-not-found', 'a Member that does not exist is not an error')
    .option('--wait', 'wait until the Members are gone (they may have finalizers)')
    .addOption(new Option('--timeout <duration>', 'how long --wait waits').default(60_000, '60s').argParser(parseDuration))
    .addHelpText(
      'after',
      `
Examples:
  member-watch delete-member patrick
  member-watch delete-member patrick sandy --wait
  member-watch delete-member --all -n crew`,
    )
    .action(async (names: string[], options: DeleteOptions, cmd: Command) => {
      const ctx = runContext(cmd);
      if ((options.all === true) === names.length > 0) throw usageError('give member NAMEs or --all, not both and not neither');
      for (const name of names) checkName(name);
      const kube = await ctx.kube();
      const members = await import('../members/delete.js');
      const namespace = kube.namespace;
      const targets = options.all ? await members.memberNames(kube, namespace) : names;
      const outcomes = await mapLimit(targets, 16, (name) => members.deleteMember(kube, namespace, name));
      const missing = targets.filter((_, i) => outcomes[i] === 'not found');
      const deleted = targets.filter((_, i) => outcomes[i] === 'deleted');
      for (const name of deleted) ctx.term.result(`${memberRef(name)} deleted`);
      if (options.wait) await members.waitUntilGone(kube, namespace, deleted, options.timeout);
      if (missing.length > 0 && !options.ignoreNotFound) {
        throw new CliError(
          ExitCode.Cluster,
          `member${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in namespace ${namespace}`,
          {
            hint: 'pass --ignore-not-found if that is fine',
          },
        );
      }
    });
}
