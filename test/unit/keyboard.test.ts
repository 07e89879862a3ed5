// The keyboard guard with a stand-in terminal: what it does to the terminal's mode, which keys it drops, which
// signals it raises, and when it keeps its hands off.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { KeyboardGuard } from '../../src/present/keyboard.js';

class FakeTty extends EventEmitter {
  isTTY = true;
  isRaw = false;
  flowing = false;
  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    return this;
  }
  resume(): this {
    this.flowing = true;
    return this;
  }
  pause(): this {
    this.flowing = false;
    return this;
  }
  type(text: string): void {
    this.emit('data', Buffer.from(text));
  }
}

function guard(options: { foreground?: boolean; tty?: FakeTty } = {}): { tty: FakeTty; guard: KeyboardGuard; log: string[] } {
  const tty = options.tty ?? new FakeTty();
  const log: string[] = [];
  const g = new KeyboardGuard({
    stdin: tty,
    beforeSignal: (signal) => log.push(`before ${signal} (raw: ${tty.isRaw})`),
    inForeground: () => options.foreground ?? true,
    raise: (signal) => log.push(`raise ${signal} (raw: ${tty.isRaw})`),
  });
  return { tty, guard: g, log };
}

test('holding: raw mode, reading, and what is typed is dropped', () => {
  const { tty, guard: g, log } = guard();
  g.hold();
  assert.equal(tty.isRaw, true);
  assert.equal(tty.flowing, true);
  tty.type('xyz\r');
  assert.deepEqual(log, []);
  g.release();
  assert.equal(tty.isRaw, false);
  assert.equal(tty.flowing, false, 'paused, so stdin does not keep the process alive');
  assert.equal(tty.listenerCount('data'), 0);
});

test('Ctrl-C, Ctrl-\\ and Ctrl-Z raise their signals after the spinner is cleared and the terminal given back', () => {
  for (const [key, signal] of [
    ['\x03', 'SIGINT'],
    ['\x1c', 'SIGQUIT'],
    ['\x1a', 'SIGTSTP'],
  ] as const) {
    const { tty, guard: g, log } = guard();
    g.hold();
    tty.type(`ab${key}cd`);
    assert.deepEqual(log, [`before ${signal} (raw: true)`, `raise ${signal} (raw: false)`], JSON.stringify(key));
  }
});

test('after Ctrl-Z, SIGCONT holds the keyboard again while the spinner still shows, not after it ended', () => {
  const { tty, guard: g } = guard();
  g.hold();
  tty.type('\x1a');
  assert.equal(tty.isRaw, false);
  process.emit('SIGCONT', 'SIGCONT');
  assert.equal(tty.isRaw, true, 'back in the foreground (fg)');
  tty.type('\x1a');
  g.release();
  process.emit('SIGCONT', 'SIGCONT');
  assert.equal(tty.isRaw, false, 'the spinner ended while suspended');
});

test('a background job, a terminal already raw and a stdin that is no terminal are left alone', () => {
  const background = guard({ foreground: false });
  background.guard.hold();
  assert.equal(background.tty.isRaw, false);
  assert.equal(background.tty.listenerCount('data'), 0);

  const raw = new FakeTty();
  raw.isRaw = true;
  const rawGuard = guard({ tty: raw });
  rawGuard.guard.hold();
  rawGuard.guard.release();
  assert.equal(raw.isRaw, true, 'a mode someone else set is not undone');

  const piped = new FakeTty();
  piped.isTTY = false;
  guard({ tty: piped }).guard.hold();
  assert.equal(piped.isRaw, false);
});
