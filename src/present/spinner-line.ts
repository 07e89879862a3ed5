import type { Writable } from 'node:stream';

/** stderr as a spinner needs it: a terminal reports its size, and says 'resize' when it changes. */
export type TerminalStream = Writable & { isTTY?: boolean; columns?: number; rows?: number };

/**
 * A terminal that reports 0 columns or 0 rows (`script` when its own input is not a terminal, `docker run -t`
 * before its first resize) has no line to redraw: ora 9 divides by the width and would clear lines for ever.
 */
export function hasSize(stream: TerminalStream): boolean {
  return stream.columns !== 0 && stream.rows !== 0;
}

/**
 * The spinner's text cut to one line of the terminal (the frame and its space take two columns, and the last
 * column is left free, where some terminals wrap).
 */
export function fitLine(text: string, columns: number | undefined): string {
  const room = (columns ?? 80) - 3;
  const chars = [...text];
  if (chars.length <= room) return text;
  return room < 1 ? '' : `${chars.slice(0, room - 1).join('')}…`;
}

const ERASE_TO_END_OF_SCREEN = '\u001b[J';
const WRAP_OFF = '\u001b[?7l';
const WRAP_ON = '\u001b[?7h';

/**
 * stderr as the spinner writes to it. ora clears its line by counting the rows it took at the last width; a
 * terminal that is made narrower wraps that line anew (tmux, VTE, iTerm2 reflow) or cuts it (xterm), and until
 * the resize reaches us a frame is drawn for the old width. So no count holds. Instead each frame is written with
 * the terminal's wrapping off, so that it stays on its row whatever the width, and the cursor then waits at the
 * start of that row; clearing erases from there to the end of the screen: the line and whatever the terminal
 * rewrapped it into on a resize, and nothing above it. Nothing is ever below the spinner.
 */
export class SpinnerLine {
  readonly isTTY = true;

  constructor(private readonly stream: TerminalStream) {}

  get columns(): number {
    return this.stream.columns || 80;
  }

  get rows(): number {
    return this.stream.rows || 24;
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | (() => void), callback?: () => void): boolean {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const done = typeof encoding === 'function' ? encoding : callback;
    // A line that ends the spinner (✔ done) leaves the cursor on the next line, as printed text does.
    return this.stream.write(text.endsWith('\n') ? text : `${WRAP_OFF}${text}${WRAP_ON}\r`, done);
  }

  cursorTo(x: number): boolean {
    return this.stream.write(`\u001b[${x + 1}G`);
  }

  moveCursor(): boolean {
    // ora moves up only for a text of several lines; fitLine keeps it to one.
    return true;
  }

  clearLine(): boolean {
    return this.stream.write(ERASE_TO_END_OF_SCREEN);
  }

  on(event: string, listener: (...args: unknown[]) => void): this {
    this.stream.on(event, listener);
    return this;
  }

  once(event: string, listener: (...args: unknown[]) => void): this {
    this.stream.once(event, listener);
    return this;
  }

  off(event: string, listener: (...args: unknown[]) => void): this {
    this.stream.off(event, listener);
    return this;
  }

  removeListener(event: string, listener: (...args: unknown[]) => void): this {
    return this.off(event, listener);
  }
}
