import assert from 'node:assert/strict';
import type { CliResult } from '../harness/cli.js';
import { GROUP, lines, type TestEnv } from './support.js';
import { bindNobody, type DocSpec, type Held, memberDoc, membersIn, tallyFrom, writeFile } from './write-support.js';

// The property behind apply-member -f: whatever the file and whatever goes wrong, the lines printed, the exit code
// and what the cluster holds afterwards agree. Each round draws a file (sizes, duplicate names, a bad document at a
// random place) and a fault, runs the built CLI against the real control plane, and checks the result against a
// model that applies the documents one by one. Seeded: a failing round names the seed that replays it.

export const FAULTS = [
  'none',
  'bad document',
  'forbidden names',
  'closed stdout',
  'none',
  'bad document',
  'forbidden names',
  'closed stdout',
  'API server stopped',
  'API server frozen',
] as const;
type Fault = (typeof FAULTS)[number];

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Draw {
  int(below: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

function draws(seed: number): Draw {
  const next = random(seed);
  return {
    int: (below) => Math.floor(next() * below),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
    chance: (p) => next() < p,
  };
}

type State = { team: string | undefined; labels: Record<string, string> };
const TEAMS = [undefined, 'red', 'blue', 'green', 'the 🙂 team'];
const LABELS: Array<Record<string, string>> = [{}, { a: '1' }, { b: '2' }, { a: '1', b: '2' }, { a: 'x', c: '3' }];
const BAD_DOCUMENTS = [
  'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n',
  `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: Not_Valid\n`,
  `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: bad\nspec:\n  memberOf: yes\n`,
  `apiVersion: ${GROUP}/v1\nkind: Member\nmetadata:\n  name: bad\n  labels: [unclosed\n`,
];

function same(a: State | undefined, b: State | undefined): boolean {
  return a !== undefined && b !== undefined && a.team === b.team && JSON.stringify(sorted(a.labels)) === JSON.stringify(sorted(b.labels));
}

function sorted(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([x], [y]) => x.localeCompare(y)));
}

function stateOf(doc: DocSpec): State {
  return { team: doc.team, labels: doc.labels ?? {} };
}

interface Round {
  seed: number;
  fault: Fault;
  namespace: string;
  before: Map<string, State>;
  docs: DocSpec[];
  forbidden: Set<string>;
  file: string;
  text: string;
}

export async function propertyRound(env: TestEnv, seed: number, fault: Fault): Promise<string> {
  const round = await prepare(env, seed, fault);
  const result = await run(env, round);
  const after = await membersIn(env, round.namespace);
  const context = `replay: WRITE_SEED=${seed} (fault ${fault}, ${round.docs.length} documents)\nfile ${round.file}\nexit ${String(result.code)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  assert.doesNotMatch(result.stderr, /\n\s+at |Warning/, context);
  if (fault === 'bad document') checkRefused(round, result, after, context);
  else check(round, result, after, context);
  return `${fault}: ${round.docs.length} documents, exit ${String(result.code)}, ${lines(result.stdout).length} lines`;
}

async function prepare(env: TestEnv, seed: number, fault: Fault): Promise<Round> {
  const draw = draws(seed);
  const namespace = await env.cluster.createNamespace('prop');
  const pool = Array.from({ length: 3 + draw.int(23) }, (_, i) => `p${i}`);
  const before = new Map<string, State>();
  for (const name of pool) if (draw.chance(0.4)) before.set(name, { team: draw.pick(TEAMS), labels: { ...draw.pick(LABELS) } });
  await Promise.all(
    [...before].map(([name, state]) =>
      env.cluster.custom.createNamespacedCustomObject({
        group: GROUP,
        version: 'v1',
        plural: 'members',
        namespace,
        body: {
          apiVersion: `${GROUP}/v1`,
          kind: 'Member',
          metadata: { name, labels: state.labels },
          spec: state.team === undefined ? {} : { memberOf: state.team },
        },
      }),
    ),
  );
  // Faults in the middle of a run need a run long enough to be in the middle of.
  const size =
    fault.startsWith('API server') || fault === 'closed stdout' ? 150 + draw.int(250) : 1 + draw.int(draw.chance(0.2) ? 300 : 60);
  const docs = Array.from({ length: size }, () => ({ name: draw.pick(pool), team: draw.pick(TEAMS), labels: { ...draw.pick(LABELS) } }));
  const texts = docs.map(memberDoc);
  if (fault === 'bad document') texts.splice(draw.int(texts.length + 1), 0, draw.pick(BAD_DOCUMENTS));
  const forbidden = new Set(fault === 'forbidden names' ? pool.filter(() => draw.chance(0.3)) : []);
  const text = texts.join('---\n');
  return { seed, fault, namespace, before, docs, forbidden, file: writeFile(env, 'property.yaml', text), text };
}

async function run(env: TestEnv, round: Round): Promise<CliResult> {
  const draw = draws(round.seed + 1);
  const args = ['-n', round.namespace, 'apply-member', '-f', round.file];
  if (round.fault === 'forbidden names') {
    // Reading and creating are allowed; changing a forbidden member is not (RBAC resourceNames).
    const pool = [...new Set([...round.before.keys(), ...round.docs.map((d) => d.name)])];
    await bindNobody(env, round.namespace, [
      { apiGroups: [GROUP], resources: ['members'], verbs: ['get', 'list', 'create'] },
      { apiGroups: [GROUP], resources: ['members'], verbs: ['patch'], resourceNames: pool.filter((n) => !round.forbidden.has(n)) },
    ]);
    return env.cli(args, { kubeconfig: env.cp.kubeconfigFor({ context: 'nobody' }) });
  }
  if (round.fault === 'API server frozen') args.push('--timeout', '3s');
  const cli = env.spawn(args);
  if (round.fault === 'none' || round.fault === 'bad document') return cli.done;
  const after = draw.int(10);
  try {
    for (let i = 0; i <= after; i++) await cli.waitForLine(() => true);
  } catch {
    // It finished before the fault: the round checks a complete run.
    return cli.done;
  }
  return injected(env, round.fault, cli.child.stdout, cli.done);
}

async function injected(env: TestEnv, fault: Fault, stdout: NodeJS.ReadableStream | null, done: Promise<CliResult>): Promise<CliResult> {
  if (fault === 'closed stdout') {
    (stdout as { destroy(): void } | null)?.destroy();
    return done;
  }
  if (fault === 'API server frozen') {
    env.cp.freezeApiserver();
    try {
      return await done;
    } finally {
      env.cp.thawApiserver();
    }
  }
  await env.cp.stopApiserver();
  try {
    return await done;
  } finally {
    await env.cp.startApiserver();
  }
}

/** A bad document anywhere: exit 2, nothing printed, nothing changed. */
function checkRefused(round: Round, result: CliResult, after: Map<string, Held>, context: string): void {
  assert.equal(result.code, 2, context);
  assert.equal(result.stdout, '', context);
  assert.match(result.stderr, /nothing was applied/, context);
  assertStates(after, round.before, context);
}

/**
 * The model: documents applied one by one in file order. A document's line says created, configured or unchanged
 * from the state its member had just before it; a forbidden member fails exactly when it would have to change.
 * A stop (API server stopped or frozen, stdout closed) leaves each member with a prefix of its documents applied,
 * plus perhaps the one cut off in flight.
 */
function check(round: Round, result: CliResult, after: Map<string, Held>, context: string): void {
  const seen = lines(result.stdout).map((l) => {
    const match = /^member\.helloworld\.apimeister\.com\/(\S+) (created|configured|unchanged)$/.exec(l);
    assert.ok(match, `unexpected line ${l}\n${context}`);
    return { name: match[1] as string, outcome: match[2] as string };
  });
  const failed = new Set([...result.stderr.matchAll(/document (\d+): /g)].map((m) => Number(m[1]) - 1));
  const model = new Map(round.before);
  const expectedLines: typeof seen = [];
  const docsOf = new Map<string, DocSpec[]>();
  round.docs.forEach((doc, i) => {
    docsOf.set(doc.name, [...(docsOf.get(doc.name) ?? []), doc]);
    const current = model.get(doc.name);
    const wanted = stateOf(doc);
    const outcome = current === undefined ? 'created' : same(current, wanted) ? 'unchanged' : 'configured';
    const refused = round.forbidden.has(doc.name) && outcome === 'configured';
    assert.equal(failed.has(i), refused, `document ${i + 1} (${doc.name}): refused ${String(refused)} in the model\n${context}`);
    if (refused) return;
    expectedLines.push({ name: doc.name, outcome });
    model.set(doc.name, wanted);
  });
  if (result.code === 0 && round.fault === 'closed stdout') {
    // Done before the close was noticed: what was read is the start of what was printed.
    assert.deepEqual(seen, expectedLines.slice(0, seen.length), context);
    assertStates(after, model, context);
    return;
  }
  if (result.code === 0 || round.fault === 'forbidden names') {
    assert.equal(result.code, failed.size > 0 ? 3 : 0, context);
    assert.deepEqual(seen, expectedLines, context);
    assertStates(after, model, context);
    if (failed.size > 0)
      assert.match(result.stderr, new RegExp(`applied ${expectedLines.length} of ${round.docs.length} members`), context);
    return;
  }
  checkStopped(round, result, after, seen, docsOf, context);
}

function checkStopped(
  round: Round,
  result: CliResult,
  after: Map<string, Held>,
  seen: Array<{ name: string; outcome: string }>,
  docsOf: Map<string, DocSpec[]>,
  context: string,
): void {
  const code = { 'closed stdout': 6, 'API server stopped': 3, 'API server frozen': 5 }[round.fault as string];
  assert.equal(result.code, code, context);
  const tally = tallyFrom(result.stderr, 'applied');
  assert.equal(tally?.total, round.docs.length, context);
  assert.ok(tally !== undefined && tally.done < round.docs.length, `a stop with nothing left undone must exit 0\n${context}`);
  // With stdout closed, the lines after the close were never read; otherwise every applied document has its line.
  if (round.fault !== 'closed stdout') assert.equal(seen.length, tally?.done, context);
  const linesOf = new Map<string, string[]>();
  for (const { name, outcome } of seen) linesOf.set(name, [...(linesOf.get(name) ?? []), outcome]);
  for (const [name, docs] of docsOf) {
    // Outcomes of the member's first documents, from its state before the run.
    let state = round.before.get(name);
    const outcomes = linesOf.get(name) ?? [];
    outcomes.forEach((outcome, k) => {
      const wanted = stateOf(docs[k] as DocSpec);
      assert.equal(
        outcome,
        state === undefined ? 'created' : same(state, wanted) ? 'unchanged' : 'configured',
        `${name} #${k + 1}\n${context}`,
      );
      state = wanted;
    });
    // Its final state: after the documents printed, or one more cut off in flight; after a closed stdout, after
    // any number of documents from those read on (the lines after the close were never read).
    const states = [round.before.get(name), ...docs.map(stateOf)];
    const possible = states.slice(outcomes.length, round.fault === 'closed stdout' ? undefined : outcomes.length + 2);
    const held = after.get(name);
    const actual = held === undefined ? undefined : { team: held.team, labels: held.labels };
    const ok = possible.some((s) => (s === undefined ? actual === undefined : same(s, actual)));
    assert.ok(
      ok,
      `${name}: ${JSON.stringify(actual)} is none of the states its documents allow after ${outcomes.length} lines\n${context}`,
    );
  }
}

function assertStates(after: Map<string, Held>, expected: Map<string, State>, context: string): void {
  const actual = Object.fromEntries([...after].map(([name, held]) => [name, { team: held.team, labels: sorted(held.labels) }]));
  const wanted = Object.fromEntries([...expected].map(([name, state]) => [name, { team: state.team, labels: sorted(state.labels) }]));
  assert.deepEqual(actual, wanted, context);
}
