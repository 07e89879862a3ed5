import type { MemberEvent, WatcherStatus } from '../watcher/events.js';
import { escapeControl } from './escape.js';
import { formatEventJson } from './event-json.js';
import { formatEventText, isQuietUpdate } from './event-text.js';
import type { Progress, Terminal } from './terminal.js';

export interface EventPrinterOptions {
  format: 'text' | 'json';
  qualified: boolean;
  timestamps: boolean;
  verbose: boolean;
}

/** Prints events on stdout; returns whether the event was printed (quiet updates are not, without --verbose). */
export class EventPrinter {
  constructor(
    private readonly term: Terminal,
    private readonly options: EventPrinterOptions,
  ) {}

  /** False when the event is not shown; the sink counts only what it shows. */
  shows(event: MemberEvent): boolean {
    return this.options.verbose || !isQuietUpdate(event);
  }

  /** Returns false when stdout's buffer is full. */
  print(event: MemberEvent): boolean {
    const line =
      this.options.format === 'json'
        ? formatEventJson(event)
        : formatEventText(event, { chalk: this.term.chalk, qualified: this.options.qualified, timestamps: this.options.timestamps });
    return this.term.result(line);
  }
}

/** Tells the person at the terminal what the watch is doing: a spinner on a TTY, plain notices otherwise. */
export class StatusReporter {
  private progress: Progress | undefined;
  private pending: Promise<void> = Promise.resolve();

  private readonly scope: string;
  private readonly server: string;

  /** scope and server come from the kubeconfig: escaped like any other text from outside. */
  constructor(
    private readonly term: Terminal,
    scope: string,
    server: string,
  ) {
    this.scope = escapeControl(scope);
    this.server = escapeControl(server);
  }

  report(status: WatcherStatus): void {
    // Spinners load lazily; statuses are applied in order all the same.
    this.pending = this.pending.then(() => this.apply(status));
  }

  async stop(): Promise<void> {
    await this.pending;
    this.progress?.stop();
    this.progress = undefined;
  }

  private async apply(status: WatcherStatus): Promise<void> {
    switch (status.kind) {
      case 'connecting':
        return this.spin(`connecting to ${this.server}`);
      case 'listed':
        return undefined;
      case 'live':
        return this.live(status.first);
      case 'reconnecting':
        return this.spin(
          `reconnecting in ${(status.delayMs / 1000).toFixed(1)}s (attempt ${status.attempt}): ${escapeControl(status.reason)}`,
        );
      case 'relisting':
        return this.spin(`relisting: ${escapeControl(status.reason)}`);
      case 'waiting-for-crd':
        return this.spin('waiting for the Member CRD to be installed (member-watch install-crd)');
      case 'skipped':
        return this.term.warn(escapeControl(`skipped a ${status.what} the API server sent (${status.problem}): ${status.text}`));
    }
  }

  private async spin(text: string): Promise<void> {
    if (this.progress) this.progress.update(text);
    else this.progress = await this.term.progress(text);
  }

  private live(first: boolean): void {
    const wasWaiting = this.progress !== undefined;
    this.progress?.stop();
    this.progress = undefined;
    if (first) this.term.notice(this.term.chalk.dim(`watching members ${this.scope}`));
    else if (wasWaiting) this.term.notice(this.term.chalk.dim('reconnected'));
  }
}
