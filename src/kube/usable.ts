import { accessSync, constants } from 'node:fs';
import { CliError, ExitCode, unreadableFile, usageError } from '../errors.js';
import type { ClusterConfig, UserConfig } from './kubeconfig.js';

const KEEP_ONE = 'keep one of them; kubectl refuses this too';

/**
 * What kubectl refuses in the cluster and user it is about to use (clientcmd's ConfirmUsable, and the transport
 * it builds), before any request: settings that contradict each other, where kubectl would not guess which one is
 * meant, and files it cannot open. Said with the fields' names; kubectl's own words are often less clear.
 */
export function checkUsable(cluster: ClusterConfig, user: UserConfig | null, source: string): void {
  const clusterName = `cluster "${cluster.name}" in ${source}`;
  if (cluster.caFile && cluster.caData) throw both(clusterName, 'certificate-authority and certificate-authority-data');
  checkReadable(cluster.caFile, `certificate-authority of ${clusterName}`);
  if (user !== null) checkUser(user, `user "${user.name}" in ${source}`);
}

function checkUser(user: UserConfig, userName: string): void {
  if ((user.token || user.tokenFile) && (user.username || user.password)) {
    throw both(userName, `a ${user.token ? 'token' : 'tokenFile'} and a username and password`);
  }
  if (user.certFile && user.certData) throw both(userName, 'client-certificate and client-certificate-data');
  if (user.keyFile && user.keyData) throw both(userName, 'client-key and client-key-data');
  if (user.exec && user.authProvider) throw both(userName, 'an exec plugin and an auth-provider');
  checkReadable(user.certFile, `client-certificate of ${userName}`);
  checkReadable(user.keyFile, `client-key of ${userName}`);
  checkImpersonation(user, userName);
}

/** Groups, a uid or extras describe the user to impersonate: without `as` there is none, and the server answers 500. */
function checkImpersonation(user: UserConfig, userName: string): void {
  if (user.impersonate) return;
  const without = [
    user.impersonateGroups.length > 0 ? 'as-groups' : undefined,
    user.impersonateUid ? 'as-uid' : undefined,
    Object.keys(user.impersonateExtra).length > 0 ? 'as-user-extra' : undefined,
  ].filter((field) => field !== undefined);
  if (without.length === 0) return;
  throw new CliError(
    ExitCode.Usage,
    `${userName} sets ${without.join(', ')} without as: they describe a user to impersonate, and none is named`,
    {
      hint: 'add as: USER to act as that user (with those groups), or remove them; kubectl refuses this too',
    },
  );
}

function both(what: string, fields: string): CliError {
  return usageError(`${what} has both ${fields}`, KEEP_ONE);
}

function checkReadable(file: string | undefined, field: string): void {
  if (!file) return;
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw usageError(`${field}: ${unreadableFile(file, err)}`);
  }
}
