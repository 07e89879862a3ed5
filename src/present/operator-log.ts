import type { ChalkInstance } from 'chalk';
import type { Announcement, AnnouncementKind } from '../operator/announcement.js';
import type { EventType, MemberEvent } from '../watcher/events.js';
import { escapeControl } from './escape.js';
import { jsonLine } from './event-json.js';
import { formatEventText } from './event-text.js';
import type { Terminal } from './terminal.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'info' | 'warn' | 'error';

/** Extra facts of a notice: what it is about (`event`) and whatever else helps, e.g. the leader's identity. */
export type NoticeFields = { event: string } & Record<string, string | number | null>;

export interface OperatorLogOptions {
  format: LogFormat;
  /** Names read NAMESPACE/NAME in text when every namespace is watched, as `watch -A` prints them. */
  qualified: boolean;
  now?: () => Date;
}

const EVENT_TYPE: Record<AnnouncementKind, EventType> = { Welcomed: 'ADDED', Moved: 'MODIFIED', Farewell: 'DELETED' };

/** The seed operator's sentence for an announcement: the same words `watch` prints for the same change. */
export function announcementText(announcement: Announcement, options: { chalk: ChalkInstance; qualified: boolean }): string {
  const event: MemberEvent = {
    type: EVENT_TYPE[announcement.kind],
    member: announcement.member,
    previousTeam: announcement.previousTeam,
    source: 'watch',
    time: announcement.time,
  };
  return formatEventText(event, { ...options, timestamps: false });
}

/**
 * The operator's log on stdout: its announcements and its notices (starting, leadership, reconnects, errors
 * it retries), one line each, as text for people or as one JSON object per line for log collectors.
 * Every JSON line has the same keys (time, level, msg, namespace, name, uid, team, previousTeam, event; null
 * when they do not apply), followed by a notice's own fields. The uid tells incarnations of a re-created name apart.
 */
export class OperatorLog {
  private readonly now: () => Date;

  constructor(
    private readonly term: Terminal,
    private readonly options: OperatorLogOptions,
  ) {
    this.now = options.now ?? ((): Date => new Date());
  }

  announce(announcement: Announcement): void {
    const { member } = announcement;
    if (this.options.format === 'json') {
      const msg = announcementText(announcement, { chalk: this.term.chalk, qualified: false });
      this.term.result(
        jsonLine({
          time: announcement.time,
          level: 'info',
          msg,
          namespace: member.namespace,
          name: member.name,
          uid: member.uid,
          team: member.team ?? null,
          previousTeam: announcement.kind === 'Moved' ? (announcement.previousTeam ?? null) : null,
          event: announcement.kind,
        }),
      );
      return;
    }
    const msg = announcementText(announcement, { chalk: this.term.chalk, qualified: this.options.qualified });
    this.term.result(`${this.prefix(announcement.time, 'info')} ${msg}`);
  }

  info(msg: string, fields: NoticeFields): void {
    this.notice('info', msg, fields);
  }

  warn(msg: string, fields: NoticeFields): void {
    this.notice('warn', msg, fields);
  }

  error(msg: string, fields: NoticeFields): void {
    this.notice('error', msg, fields);
  }

  private notice(level: LogLevel, msg: string, fields: NoticeFields): void {
    const time = this.now().toISOString();
    if (this.options.format === 'json') {
      const { event, ...extra } = fields;
      const line = { time, level, msg, namespace: null, name: null, uid: null, team: null, previousTeam: null, event, ...extra };
      this.term.result(jsonLine(line));
      return;
    }
    const extras = Object.entries(fields)
      .filter(([key, value]) => key !== 'event' && value !== null)
      .map(([key, value]) => ` ${key}=${escapeControl(String(value))}`)
      .join('');
    this.term.result(`${this.prefix(time, level)} ${escapeControl(msg)}${this.term.chalk.dim(extras)}`);
  }

  private prefix(time: string, level: LogLevel): string {
    const { chalk } = this.term;
    const label = level.toUpperCase().padEnd(5);
    const coloured = level === 'error' ? chalk.red(label) : level === 'warn' ? chalk.yellow(label) : chalk.dim(label);
    return `${chalk.dim(time)} ${coloured}`;
  }
}
