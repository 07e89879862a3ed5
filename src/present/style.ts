import { Chalk, type ChalkInstance } from 'chalk';

export interface ColorEnv {
  noColorFlag: boolean;
  machineOutput: boolean;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * Colour is decided once, here: never for machine output or with --no-color / NO_COLOR,
 * forced by FORCE_COLOR, otherwise only when the stream is a terminal.
 */
export function colorLevel({ noColorFlag, machineOutput, isTTY, env }: ColorEnv): 0 | 1 | 2 | 3 {
  if (machineOutput || noColorFlag || (env.NO_COLOR ?? '') !== '') return 0;
  if (env.FORCE_COLOR !== undefined) return forcedLevel(env.FORCE_COLOR);
  if (!isTTY || env.TERM === 'dumb') return 0;
  return env.COLORTERM === 'truecolor' ? 3 : 2;
}

/**
 * A spinner redraws one line in place: only on a coloured terminal that can move its cursor (not TERM=dumb, even
 * with FORCE_COLOR), and not under CI, where even a terminal (docker -t, a CI runner's pty) is read as a log afterwards. One place decides, and ora is told, so that it
 * does not fall back on its own rule (which prints a spinner's first text under CI and drops every later one).
 */
export function animates(stderrIsTTY: boolean, stderrColor: 0 | 1 | 2 | 3, env: NodeJS.ProcessEnv): boolean {
  return stderrIsTTY && stderrColor > 0 && env.CI === undefined && env.TERM !== 'dumb';
}

/** FORCE_COLOR as chalk reads it: 0 or false turn colour off, 2 and 3 pick 256 colours or truecolor. */
function forcedLevel(force: string): 0 | 1 | 2 | 3 {
  if (force === '0' || force === 'false') return 0;
  const level = Number(force);
  return level === 2 || level === 3 ? level : 1;
}

export function makeChalk(level: 0 | 1 | 2 | 3): ChalkInstance {
  return new Chalk({ level });
}
