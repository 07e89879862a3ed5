import type { MemberEvent, WatcherStatus } from '../watcher/events.js';
import { escapeControl } from './escape.js';
import { formatEventJson } from './event-json.js';
import { formatEventText, isQuietUpdate } from './event-text.js';
import { describeFailure, formatDelay, Outage, RELISTING, SNAPSHOT_EXPIRED, skippedText, WAITING_FOR_CRD } from './watch-notices.js';
import type { Progress, Terminal } from './terminal.js';

export interface EventPrinterOptions {
  format: 'text' | 'json';
  qualified: boolean;
  timestamps: boolean;
  verbose: boolean;
  /** The watch's -l and --field-selector as given. */
  selectors?: string | undefined;
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
        : formatEventText(event, {
            chalk: this.term.chalk,
            qualified: this.options.qualified,
            timestamps: this.options.timestamps,
            selectors: this.options.selectors,
          });
    return this.term.result(line);
  }
}

/** What the watch covers, for notices: scope and server come from the kubeconfig, escaped like any outside text. */
export interface WatchScope {
  /** undefined: every namespace. */
  namespace: string | undefined;
  /** A label or field selector narrows the watch. */
  selected: boolean;
  server: string;
}

const COUNTDOWN_MS = 1000;

/** What the reporter needs of the terminal. */
export type NoticeTerminal = Pick<Terminal, 'chalk' | 'notice' | 'warn' | 'progress' | 'spinners'>;

/**
 * Tells the person at the terminal what the watch is doing: a spinner on a TTY, plain notices otherwise.
 * Each outage (failures, relists, a missing CRD, in any mix) ends with one notice once the watch is live again;
 * without a terminal, a reconnect is one line per attempt and a CRD wait one line, not one per poll.
 */
export class StatusReporter {
  private progress: Progress | undefined;
  private pending: Promise<void> = Promise.resolve();
  private countdown: NodeJS.Timeout | undefined;
  private readonly outage = new Outage();
  private shown: WatcherStatus['kind'] | undefined;
  private readonly where: string;
  private readonly server: string;

  constructor(
    private readonly term: NoticeTerminal,
    private readonly scope: WatchScope,
  ) {
    this.where = scope.namespace === undefined ? 'in every namespace' : `in namespace ${escapeControl(scope.namespace)}`;
    this.server = escapeControl(scope.server);
  }

  report(status: WatcherStatus): void {
    // Spinners load lazily; statuses are applied in order all the same.
    this.pending = this.pending.then(() => this.apply(status));
  }

  async stop(): Promise<void> {
    await this.pending;
    this.stopCountdown();
    this.progress?.stop();
    this.progress = undefined;
  }

  private async apply(status: WatcherStatus): Promise<void> {
    switch (status.kind) {
      case 'listed':
        return this.listed(status.members);
      case 'skipped':
        return this.term.warn(escapeControl(skippedText(status)));
      case 'live':
        return this.live(status.first);
      default:
        return this.waiting(status);
    }
  }

  private async waiting(status: Exclude<WatcherStatus, { kind: 'listed' | 'skipped' | 'live' }>): Promise<void> {
    // A CRD that is still missing is polled again and again: that is one wait, not news at every poll.
    if (status.kind === 'waiting-for-crd' && this.shown === 'waiting-for-crd') return;
    this.shown = status.kind;
    this.stopCountdown();
    this.outage.note(status.kind);
    switch (status.kind) {
      case 'connecting':
        return this.show(`connecting to ${this.server}`);
      case 'reconnecting':
        return this.reconnecting(status);
      case 'relisting':
        return this.show(status.snapshot === true ? SNAPSHOT_EXPIRED : RELISTING);
      case 'waiting-for-crd':
        return this.show(WAITING_FOR_CRD);
    }
  }

  /** Counts down on a spinner; without a terminal the line is printed once per attempt. */
  private async reconnecting(status: Extract<WatcherStatus, { kind: 'reconnecting' }>): Promise<void> {
    const reason = escapeControl(describeFailure(status.cause));
    const due = Date.now() + status.delayMs;
    const text = (): string => `reconnecting in ${formatDelay(due - Date.now())} (attempt ${status.attempt}): ${reason}`;
    await this.show(text());
    if (this.term.spinners) this.countdown = setInterval(() => this.progress?.update(text()), COUNTDOWN_MS).unref();
  }

  private listed(members: number): void {
    if (members > 0) return;
    const matching = this.scope.selected ? ' matching the selectors' : '';
    const where = this.scope.namespace === undefined ? 'in any namespace' : this.where;
    this.term.notice(this.term.chalk.dim(`no members${matching} ${where} yet`));
  }

  private async show(text: string): Promise<void> {
    if (this.progress) this.progress.update(text);
    else this.progress = await this.term.progress(text);
  }

  private stopCountdown(): void {
    clearInterval(this.countdown);
    this.countdown = undefined;
  }

  private live(first: boolean): void {
    this.stopCountdown();
    this.progress?.stop();
    this.progress = undefined;
    this.shown = 'live';
    const recovered = this.outage.ended(this.where);
    if (first) this.term.notice(this.term.chalk.dim(`watching members ${this.where}`));
    else if (recovered !== undefined) this.term.notice(this.term.chalk.dim(recovered));
  }
}
