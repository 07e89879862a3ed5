import { readFileSync } from 'node:fs';

/** What the guard needs of stdin: a terminal it can switch to raw mode and read. */
export interface KeyboardInput {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface KeyboardOptions {
  stdin: KeyboardInput;
  /** Called before a signal key takes effect: the spinner clears its line, so the shell's prompt starts clean. */
  beforeSignal: (signal: NodeJS.Signals) => void;
  /** Whether this process owns the terminal now (a background job must not touch it). */
  inForeground?: () => boolean;
  raise?: (signal: NodeJS.Signals) => void;
}

// The keys a terminal turns into signals in its usual (cooked) mode; raw mode hands them over as bytes.
const SIGNAL_KEYS: ReadonlyMap<number, NodeJS.Signals> = new Map([
  [0x03, 'SIGINT'], // ^C
  [0x1c, 'SIGQUIT'], // ^\
  [0x1a, 'SIGTSTP'], // ^Z
]);

/**
 * While a spinner shows, keys typed at the terminal would be echoed through it and then, once the command ends,
 * read by the shell as the start of its next command line. The guard holds the terminal in raw mode and drops
 * what is typed, except the keys that the terminal would have turned into signals: those raise the same signal,
 * so Ctrl-C, Ctrl-\ and Ctrl-Z keep their meaning at every moment.
 */
export class KeyboardGuard {
  /** Asked to hold (a spinner shows)... */
  private wanted = false;
  /** ...and holding now (not while suspended by Ctrl-Z, nor in the background). */
  private holding = false;
  private readonly onData = (chunk: Buffer): void => this.read(chunk);
  private readonly inForeground: () => boolean;
  private readonly raise: (signal: NodeJS.Signals) => void;

  constructor(private readonly options: KeyboardOptions) {
    this.inForeground = options.inForeground ?? ownsTerminal;
    this.raise = options.raise ?? ((signal): void => void process.kill(process.pid, signal));
  }

  /** Starts dropping keys, if stdin is this process's terminal; does nothing otherwise. */
  hold(): void {
    this.wanted = true;
    this.engage();
  }

  /** Gives the terminal back as it was; keys typed from now on reach whoever reads them next. */
  release(): void {
    this.wanted = false;
    this.disengage();
  }

  private engage(): void {
    const { stdin } = this.options;
    if (this.holding || stdin.isTTY !== true || stdin.setRawMode === undefined || stdin.isRaw === true || !this.inForeground()) return;
    this.holding = true;
    stdin.setRawMode(true);
    stdin.on('data', this.onData);
    stdin.resume();
  }

  private disengage(): void {
    if (!this.holding) return;
    this.holding = false;
    const { stdin } = this.options;
    stdin.off('data', this.onData);
    stdin.setRawMode?.(false);
    // Paused, stdin no longer keeps the process alive.
    stdin.pause();
  }

  private read(chunk: Buffer): void {
    for (const byte of chunk) {
      const signal = SIGNAL_KEYS.get(byte);
      if (signal === undefined) continue;
      this.options.beforeSignal(signal);
      this.disengage();
      // Back in the foreground after Ctrl-Z (`fg`), keys are dropped again while the spinner still shows.
      if (signal === 'SIGTSTP') process.once('SIGCONT', () => this.wanted && this.engage());
      this.raise(signal);
      return;
    }
  }
}

/**
 * A background job that switches the terminal's mode or reads from it is stopped by the kernel (SIGTTOU, SIGTTIN):
 * only the terminal's foreground process group may. Linux says which one that is in /proc; where that cannot be
 * read, the terminal is left alone (Ctrl-C still works there: the terminal itself sends SIGINT).
 */
function ownsTerminal(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // After "pid (comm) ": state ppid pgrp session tty_nr tpgid
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] !== undefined && fields[2] === fields[5];
  } catch {
    return false;
  }
}
