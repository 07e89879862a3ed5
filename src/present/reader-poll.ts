import { fstatSync } from 'node:fs';
import type { WASI } from 'node:wasi';

/**
 * Whether anybody still reads a pipe or socket we write to, asked of the kernel without writing to it.
 *
 * `member-watch watch | head -1` in a quiet namespace has nothing more to write after the first line, and a pipe
 * whose reader has gone is otherwise found only by the next write (EPIPE), which may come minutes later or never.
 * poll(2) tells at once: the write end of a pipe with no reader left reports POLLERR, a socket whose peer closed
 * reports a hang-up. Node has no poll(2) of its own for a descriptor it only writes to (its streams start reading
 * only on descriptors opened for reading); WASI's poll_oneoff is poll(2) through libuv, on any descriptor.
 */

const POLL_EVERY_MS = 250;
// WASI preview1 layouts (wasi_snapshot_preview1 witx): a subscription is 48 bytes, an event 32.
const SUBSCRIPTION_SIZE = 48;
const EVENT_SIZE = 32;
const EVENTTYPE_CLOCK = 0;
const EVENTTYPE_FD_WRITE = 2;
const EVENT_FD_READWRITE_HANGUP = 1;
const FD_USERDATA = 1n;
/** The clock that ends each poll: the descriptor is only asked, never waited for. */
const WAIT_NS = 1_000_000n;
const SUBSCRIPTIONS = 0;
const EVENTS = 2 * SUBSCRIPTION_SIZE;
const EVENT_COUNT = EVENTS + 2 * EVENT_SIZE;

/** The one part of WebAssembly used here: the lib TypeScript has for Node declares none of it. */
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer } };

interface Poller {
  wasi: WASI;
  memory: { readonly buffer: ArrayBuffer };
}

/**
 * Calls `onGone` once, as soon as nobody reads `fd` any more; does nothing when `fd` is not a pipe or a socket
 * (a terminal that goes away sends SIGHUP, a file has no reader to lose). The check runs every quarter second and
 * never keeps the process alive.
 */
export async function whenReaderLeaves(fd: number, onGone: () => void): Promise<void> {
  if (!readerCanLeave(fd)) return;
  const poller = await makePoller(fd);
  if (poller === undefined) return;
  const timer = setInterval(() => {
    if (!readerLeft(poller)) return;
    clearInterval(timer);
    onGone();
  }, POLL_EVERY_MS);
  timer.unref();
}

function readerCanLeave(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

async function makePoller(fd: number): Promise<Poller | undefined> {
  try {
    const { WASI } = await import('node:wasi');
    const wasi = await withoutExperimentalWarning(
      () => new WASI({ version: 'preview1', stdin: 0, stdout: fd, stderr: 2, returnOnExit: true }),
    );
    const memory = new WebAssembly.Memory({ initial: 1 });
    // poll_oneoff reads and writes this memory; no WebAssembly code runs at all.
    wasi.initialize({ exports: { memory } });
    return { wasi, memory };
  } catch {
    // A Node built without WASI: a closed pipe is found by the next write, as before.
    return undefined;
  }
}

/**
 * Node marks WASI experimental and says so on stderr, one tick after its first use: our use of it is no news to
 * the user, whose stderr carries the command's own notices.
 */
async function withoutExperimentalWarning<T>(make: () => T): Promise<T> {
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  try {
    return make();
  } finally {
    await new Promise((resolve) => setImmediate(resolve));
    for (const listener of listeners) process.on('warning', listener);
  }
}

/** One poll(2) of the descriptor for writing, ended by a clock of 1 ms. */
function readerLeft({ wasi, memory }: Poller): boolean {
  const view = new DataView(memory.buffer);
  new Uint8Array(memory.buffer, 0, EVENT_COUNT + 4).fill(0);
  view.setBigUint64(SUBSCRIPTIONS, FD_USERDATA, true);
  view.setUint8(SUBSCRIPTIONS + 8, EVENTTYPE_FD_WRITE);
  // WASI numbers the descriptor it was handed as its stdout 1.
  view.setUint32(SUBSCRIPTIONS + 16, 1, true);
  const clock = SUBSCRIPTIONS + SUBSCRIPTION_SIZE;
  view.setUint8(clock + 8, EVENTTYPE_CLOCK);
  view.setUint32(clock + 16, 1, true); // CLOCKID_MONOTONIC
  view.setBigUint64(clock + 24, WAIT_NS, true);
  const pollOneoff = wasi.wasiImport.poll_oneoff as (input: number, output: number, count: number, written: number) => number;
  if (pollOneoff(SUBSCRIPTIONS, EVENTS, 2, EVENT_COUNT) !== 0) return false;
  const count = view.getUint32(EVENT_COUNT, true);
  for (let i = 0; i < count; i++) {
    const event = EVENTS + i * EVENT_SIZE;
    if (view.getBigUint64(event, true) !== FD_USERDATA) continue;
    const failed = view.getUint16(event + 8, true) !== 0;
    const hungUp = (view.getUint16(event + 24, true) & EVENT_FD_READWRITE_HANGUP) !== 0;
    return failed || hungUp;
  }
  return false;
}
