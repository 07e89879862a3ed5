// npm run demo: member-watch at work with no cluster at hand. It starts the control plane the tests use (a real
// kube-apiserver and etcd on loopback ports), installs the CRD, runs `watch` in this terminal, and applies, moves,
// updates and deletes members so that every message shows; then its connection to the API server breaks for a
// moment and the watch reconnects. Ctrl-C stops the watch and the control plane: nothing is left running, no files are left.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Chalk } from 'chalk';
import { CLI_PATH } from '../test/harness/cli.js';
import { type ControlPlane, killOnExit, startControlPlane } from '../test/harness/control-plane.js';
import { startTcpProxy, type TcpProxy } from '../test/harness/tcp-proxy.js';

const chalk = new Chalk({ level: process.stderr.isTTY && (process.env.NO_COLOR ?? '') === '' ? 2 : 0 });
const PAUSE_MS = Number(process.env.DEMO_PAUSE_MS ?? 1500);

/** What the demo does, step by step: what it says, then the command it runs. */
const STEPS: Array<[string, string[]]> = [
  ['patrick joins the team blue', ['apply-member', 'patrick', '--team', 'blue']],
  ['sandy joins, in no team yet', ['apply-member', 'sandy']],
  ['sandy picks a team', ['apply-member', 'sandy', '--team', 'blue']],
  ['patrick moves to the team red', ['apply-member', 'patrick', '--team', 'red']],
  [
    'a label changes, the team does not (shown because the watch runs with --verbose)',
    ['apply-member', 'patrick', '--team', 'red', '-l', 'role=lead'],
  ],
  ['sandy leaves her team', ['apply-member', 'sandy']],
  ['patrick leaves', ['delete-member', 'patrick']],
];

function say(text: string): void {
  process.stderr.write(`\n${chalk.dim(`# ${text}`)}\n`);
}

function show(args: string[]): void {
  process.stderr.write(`${chalk.bold(`$ member-watch ${args.join(' ')}`)}\n`);
}

/**
 * The CLI, printing to this terminal (or quiet); its stdin is not the keyboard, so that no spinner holds it and
 * Ctrl-C reaches the whole demo at once.
 */
function cli(args: string[], kubeconfig: string, output: 'inherit' | 'ignore' = 'inherit'): ChildProcess {
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', output, output], env });
  killOnExit(child);
  return child;
}

async function run(args: string[], kubeconfig: string, output: 'inherit' | 'ignore' = 'inherit'): Promise<void> {
  const code = await new Promise<number | null>((resolve) => cli(args, kubeconfig, output).once('exit', resolve));
  if (code !== 0) throw new Error(`member-watch ${args.join(' ')} failed (exit ${String(code)})`);
}

async function step(args: string[], kubeconfig: string): Promise<void> {
  show(args);
  await run(args, kubeconfig);
}

async function waitForFile(file: string): Promise<void> {
  for (let waited = 0; !existsSync(file); waited += 100) {
    if (waited > 60_000) throw new Error(`the watch did not start within a minute (${file} never appeared)`);
    await sleep(100);
  }
}

/**
 * The control plane harness kills what it started and removes its files on SIGINT and SIGTERM (and on exit),
 * then lets the signal end the process. This says so first; a hangup (the terminal closed) takes the same path.
 */
function onStop(): void {
  const stopping = (signal: NodeJS.Signals): void => {
    say('stopping the watch and the control plane');
    // Without the harness's handler yet (still starting), nobody else would end the process.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once('SIGINT', stopping);
  process.once('SIGTERM', stopping);
  process.once('SIGHUP', () => process.kill(process.pid, 'SIGTERM'));
}

let watch: ChildProcess | undefined;

/** The watch's connection refused for a few seconds; back once the watch got through again. */
async function outage(proxy: TcpProxy): Promise<void> {
  proxy.setMode('refuse');
  proxy.cutAll();
  await sleep(PAUSE_MS * 2);
  const attempts = proxy.connections;
  proxy.setMode('pass');
  while (proxy.connections === attempts) await sleep(100);
  await sleep(PAUSE_MS);
}

async function tour(cp: ControlPlane): Promise<void> {
  const kubeconfig = cp.kubeconfig;
  // The watch goes through a proxy that can cut its connection (the other commands talk to the server directly).
  const proxy = await startTcpProxy(Number(new URL(cp.server).port));
  const proxied = cp.kubeconfigFor({ server: `https://127.0.0.1:${proxy.port}` });
  say(`a control plane runs at ${cp.server}; its files: ${cp.dir}`);
  say(`to try commands from another terminal:  export KUBECONFIG=${kubeconfig}`);
  await step(['install-crd'], kubeconfig);
  say('the watch greets everyone who joins, follows team changes and sees off whoever leaves; its lines follow');
  const ready = join(cp.dir, 'demo-watch-ready');
  show(['watch', '--verbose']);
  watch = cli(['watch', '--verbose', '--ready-file', ready], proxied);
  await waitForFile(ready);
  for (const [note, args] of STEPS) {
    await sleep(PAUSE_MS);
    say(note);
    await step(args, kubeconfig);
  }
  await sleep(PAUSE_MS);
  say('the connection breaks for a few seconds, and gary joins meanwhile: the watch reconnects and misses nothing');
  // Quiet while the watch's spinner shows, so that no line is drawn through it.
  const outageOver = outage(proxy);
  await run(['apply-member', 'gary', '--team', 'pets'], kubeconfig, 'ignore');
  await outageOver;
  await sleep(PAUSE_MS);
  say('that was every message. The watch goes on: press Ctrl-C to stop it and the control plane.');
}

onStop();
say('starting a local Kubernetes control plane (kube-apiserver and etcd, as the tests use): no cluster needed');
const cp = await startControlPlane();
try {
  await tour(cp);
} catch (err) {
  process.stderr.write(`${chalk.red('demo failed:')} ${err instanceof Error ? err.message : String(err)}\n`);
  watch?.kill();
  await cp.stop();
  process.exitCode = 1;
}
