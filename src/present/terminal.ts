import type { Writable } from 'node:stream';
import type { ChalkInstance } from 'chalk';
import type { Ora } from 'ora';
import { KeyboardGuard, type KeyboardInput } from './keyboard.js';
import { fitLine, hasSize, SpinnerLine, type TerminalStream } from './spinner-line.js';
import { makeChalk } from './style.js';

export interface TerminalOptions {
  stdout: Writable;
  stderr: TerminalStream;
  /** Colour level for stdout and stderr, decided by colorLevel(). */
  color: 0 | 1 | 2 | 3;
  /** Spinners only on an interactive stderr, never for machine-readable output. */
  spinner: boolean;
  /** The keyboard, held while a spinner shows (default: process.stdin). */
  stdin?: KeyboardInput;
}

/** Progress of a step that takes a while: a spinner on a terminal, plain notices otherwise. */
export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

/**
 * The only writer to the process's streams: results to stdout, everything about the run
 * (progress, notices, warnings, errors) to stderr.
 */
export class Terminal {
  readonly chalk: ChalkInstance;
  private active: Ora | undefined;
  private batching = false;
  private readonly keyboard: KeyboardGuard;

  constructor(private readonly options: TerminalOptions) {
    this.chalk = makeChalk(options.color);
    this.keyboard = new KeyboardGuard({
      stdin: options.stdin ?? process.stdin,
      // Ctrl-Z leaves the spinner to be drawn again after `fg`; the other signal keys end the command.
      beforeSignal: (signal) => (signal === 'SIGTSTP' ? this.active?.clear() : this.stopSpinner()),
    });
  }

  /** A result line on stdout; false when the stream's buffer is full, so callers can wait for 'drain'. */
  result(text: string): boolean {
    let accepted = true;
    this.aboveSpinner(() => {
      this.batchUntilTickEnds();
      accepted = this.options.stdout.write(`${text}\n`);
    });
    return accepted;
  }

  /**
   * Lines written in one tick (one chunk of a list, a burst of events) leave a pipe in one write instead of one
   * system call each. Not on a terminal, where a spinner is drawn between lines and a person reads at human speed.
   */
  private batchUntilTickEnds(): void {
    const { stdout } = this.options;
    if (this.batching || (stdout as { isTTY?: boolean }).isTTY) return;
    this.batching = true;
    stdout.cork();
    process.nextTick(() => {
      this.batching = false;
      stdout.uncork();
    });
  }

  get stdout(): Writable {
    return this.options.stdout;
  }

  /** Whether progress is a spinner redrawn in place (so it may change every second) or plain lines. */
  get spinners(): boolean {
    return this.options.spinner && hasSize(this.options.stderr);
  }

  notice(text: string): void {
    this.aboveSpinner(() => this.options.stderr.write(`${text}\n`));
  }

  warn(text: string): void {
    this.notice(`${this.chalk.yellow('warning:')} ${text}`);
  }

  error(text: string, hint?: string): void {
    this.stopSpinner();
    this.options.stderr.write(`${this.chalk.red('error:')} ${text}\n`);
    if (hint !== undefined) this.options.stderr.write(`${this.chalk.dim(`hint: ${hint}`)}\n`);
  }

  async progress(text: string): Promise<Progress> {
    const { stderr } = this.options;
    if (!this.spinners) {
      this.notice(`${text}...`);
      return this.plainProgress();
    }
    const { default: ora } = await import('ora');
    this.stopSpinner();
    let full = text;
    let plain: Progress | undefined;
    // ora's own stdin handling swallows Ctrl-C: the keyboard guard does it instead.
    const line = new SpinnerLine(stderr);
    const spinner = ora({
      text: fitLine(full, line.columns),
      stream: line as unknown as NodeJS.WriteStream,
      color: 'cyan',
      discardStdin: false,
      isEnabled: true,
    }).start();
    // A terminal that shrinks to no size at all has no line left to redraw: plain notices from then on.
    const onResize = (): void => {
      if (hasSize(stderr)) {
        spinner.text = fitLine(full, line.columns);
        return;
      }
      end(() => spinner.stop());
      plain = this.plainProgress();
      plain.update(full);
    };
    const end = (how: () => void): void => {
      stderr.off('resize', onResize);
      this.endSpinner(spinner, how);
    };
    stderr.on('resize', onResize);
    this.active = spinner;
    this.keyboard.hold();
    return {
      update: (t) => {
        full = t;
        if (plain) plain.update(t);
        else spinner.text = fitLine(t, line.columns);
      },
      succeed: (t) => (plain ? plain.succeed(t) : end(() => spinner.succeed(t))),
      fail: (t) => (plain ? plain.fail(t) : end(() => spinner.fail(t))),
      stop: () => end(() => spinner.stop()),
    };
  }

  private plainProgress(): Progress {
    return {
      update: (t) => this.notice(`${t}...`),
      succeed: (t) => this.notice(t),
      fail: (t) => this.notice(t),
      stop: () => undefined,
    };
  }

  private endSpinner(spinner: Ora, end: () => void): void {
    if (this.active === spinner) {
      this.active = undefined;
      this.keyboard.release();
    }
    if (spinner.isSpinning) end();
  }

  /** Lines written while a spinner runs would be overdrawn: clear it, write, draw it again. */
  private aboveSpinner(write: () => void): void {
    const spinner = this.active;
    if (spinner?.isSpinning) {
      spinner.clear();
      write();
      spinner.render();
    } else {
      write();
    }
  }

  private stopSpinner(): void {
    this.active?.stop();
    this.active = undefined;
    this.keyboard.release();
  }
}
