import { randomInt } from 'node:crypto';

/**
 * A seeded generator (mulberry32): the same seed makes the same choices, so a failing churn run can be replayed
 * with `CHURN_SEED=...`. Not for anything that needs unpredictability.
 */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A seed from the environment variable if set (decimal), a fresh random one otherwise. */
  static fromEnv(variable: string): Prng {
    const given = process.env[variable];
    if (given === undefined || given === '') return new Prng(randomInt(2 ** 31));
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
      throw new Error(`${variable} must be an integer from 0 to 2^32-1, not ${given}`);
    return new Prng(seed);
  }

  /**
   * An independent stream for one part of a run (the plan, one fault's moments): what one part draws then does
   * not depend on when another part drew, so a replay makes the same choices despite different timing.
   */
  fork(label: string): Prng {
    let hash = 0x811c9dc5;
    for (const ch of label) hash = Math.imul(hash ^ (ch.codePointAt(0) ?? 0), 0x01000193);
    return new Prng((this.seed ^ hash) >>> 0);
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
}
