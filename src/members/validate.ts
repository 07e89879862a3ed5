import { CliError, ExitCode, usageError } from '../errors.js';
import { API_VERSION, KIND } from './resource.js';

// Member names are DNS-1123 subdomains, the rule the API server applies to custom resources.
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_NAME = 253;
// Must match crds/member.yaml: the API server enforces it, we say it before any request.
export const MAX_TEAM = 63;
// C0, DEL and C1: U+009B alone starts an escape sequence on many terminals.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Returns why NAME is not a valid Member name, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'a name must not be empty';
  if (name.length > MAX_NAME) return `a name must be at most ${MAX_NAME} characters (it has ${name.length})`;
  if (!SUBDOMAIN.test(name)) {
    return 'a name must consist of lowercase letters, digits, "-" and ".", and start and end with a letter or digit';
  }
  return undefined;
}

export function teamProblem(team: string): string | undefined {
  if (team === '') return 'a team must not be empty (leave the team out for no team)';
  // Counted as the API server counts maxLength: in characters (code points), not in UTF-16 units.
  const characters = [...team].length;
  if (characters > MAX_TEAM) return `a team must be at most ${MAX_TEAM} characters (it has ${characters})`;
  if (CONTROL.test(team)) return 'a team must not contain control characters';
  return undefined;
}

// Label keys and values follow the Kubernetes label syntax: an optional DNS prefix, a name of at most 63 characters.
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function labelProblem(key: string, value: string): string | undefined {
  const [prefix, name] = key.includes('/') ? [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)] : [undefined, key];
  if (prefix !== undefined && (prefix.length > MAX_NAME || !LABEL_PREFIX.test(prefix))) return `label key "${key}" has an invalid prefix`;
  if (name === '' || name.length > 63 || !LABEL_NAME.test(name)) return `label key "${key}" must be 1-63 letters, digits, "-", "_" or "."`;
  if (value.length > 63 || !LABEL_NAME.test(value)) return `label value "${value}" must be at most 63 letters, digits, "-", "_" or "."`;
  return undefined;
}

export function checkName(name: string, what = 'member name'): void {
  const problem = nameProblem(name);
  if (problem !== undefined) throw usageError(`invalid ${what} ${JSON.stringify(name)}: ${problem}`);
}

export function checkTeam(team: string): void {
  const problem = teamProblem(team);
  if (problem !== undefined) throw usageError(`invalid team ${JSON.stringify(team)}: ${problem}`);
}

/** Why an API server's answer is not the Member NAME of NAMESPACE, or undefined when it is: a proxy or a broken
 * server can answer 200 with anything, and a report must not call that a member. */
export function memberShapeProblem(answer: unknown, name: string, namespace: string): string | undefined {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer))
    return `not an object but ${JSON.stringify(answer)?.slice(0, 40)}`;
  const object = answer as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (object.kind !== KIND || object.apiVersion !== API_VERSION) return `its kind is ${String(object.kind)} ${String(object.apiVersion)}`;
  if (typeof object.metadata?.name !== 'string') return 'it has no metadata.name';
  const where = object.metadata.namespace;
  if (object.metadata.name !== name || (where !== undefined && where !== namespace))
    return `it is ${String(where)}/${object.metadata.name}`;
  return undefined;
}

export function notAMember(verb: string, name: string, problem: string): CliError {
  return new CliError(
    ExitCode.Cluster,
    `the API server answered the ${verb} of member ${name} with something that is not a Member: ${problem}`,
    {
      hint: 'check that the kubeconfig points at a Kubernetes API server, not at a proxy or a web page',
    },
  );
}
