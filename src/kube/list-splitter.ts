import { UnexpectedAnswer } from './failures.js';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ITEMS_KEY = /"items"\s*:\s*$/;

/** outside: the list object itself; between: inside `items`, between two items; item: inside one item. */
type Mode = 'outside' | 'between' | 'item';

/**
 * Cuts a Kubernetes list response into its items while the bytes arrive, so that a list of 100,000 objects is
 * never held whole, neither as text nor parsed. What is not an item (kind, and metadata with resourceVersion and
 * continue, which the API server writes after the items) is kept and read at the end.
 */
export class ListSplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private mode: Mode = 'outside';
  private outside = '';
  /** The start of an item that began in an earlier chunk. */
  private pieces: string[] = [];

  /** Feeds the next chunk of text; returns the items it completed, each as JSON text. */
  push(chunk: string): string[] {
    const items: string[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (this.inString) {
        i = this.stringEnd(chunk, i);
        continue;
      }
      const c = chunk.charCodeAt(i);
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) start = this.open(chunk, i, start);
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) start = this.close(chunk, i, start, items);
    }
    this.keep(chunk.slice(start));
    return items;
  }

  /**
   * The list without its items, e.g. `{"kind":"MemberList","items":[],"metadata":{...}}`. An answer whose JSON breaks
   * off although HTTP said it was complete (a cut connection fails before this) is an UnexpectedAnswer.
   */
  end(): string {
    if (this.depth !== 0 || this.inString || this.outside.trim() === '') {
      throw new UnexpectedAnswer('BAD_JSON', 'a list that breaks off in the middle (malformed JSON)');
    }
    return this.outside;
  }

  /** From a position inside a string: the index of its closing quote, or the chunk's length when it goes on. */
  private stringEnd(chunk: string, from: number): number {
    let i = from;
    if (this.escaped) {
      this.escaped = false;
      i += 1;
    }
    const floor = i;
    for (;;) {
      const quote = chunk.indexOf('"', i);
      if (quote === -1) {
        this.escaped = backslashesBefore(chunk, chunk.length, floor) % 2 === 1;
        return chunk.length;
      }
      if (backslashesBefore(chunk, quote, floor) % 2 === 0) {
        this.inString = false;
        return quote;
      }
      i = quote + 1;
    }
  }

  private open(chunk: string, i: number, start: number): number {
    this.depth += 1;
    if (this.mode === 'between') {
      this.mode = 'item';
      return i;
    }
    if (this.mode === 'outside' && this.depth === 2 && chunk.charCodeAt(i) === OPEN_BRACKET) {
      const before = chunk.slice(start, i + 1);
      if (ITEMS_KEY.test(this.outside + before.slice(0, -1))) {
        this.outside += before;
        this.mode = 'between';
        return i + 1;
      }
    }
    return start;
  }

  private close(chunk: string, i: number, start: number, items: string[]): number {
    this.depth -= 1;
    if (this.mode === 'item' && this.depth === 2) {
      this.pieces.push(chunk.slice(start, i + 1));
      items.push(this.pieces.join(''));
      this.pieces = [];
      this.mode = 'between';
      return i + 1;
    }
    if (this.mode === 'between' && this.depth === 1) {
      this.mode = 'outside';
      return i;
    }
    return start;
  }

  private keep(text: string): void {
    if (this.mode === 'outside') this.outside += text;
    else if (this.mode === 'item') this.pieces.push(text);
  }
}

/** How many backslashes come right before `at`, not looking before `floor`: an odd count escapes what follows. */
function backslashesBefore(text: string, at: number, floor: number): number {
  let i = at;
  while (i > floor && text.charCodeAt(i - 1) === BACKSLASH) i -= 1;
  return at - i;
}
