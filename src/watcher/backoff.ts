export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A connection that stayed up this long counts as healthy and resets the delay. */
  healthyMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, healthyMs: 30_000 };

/**
 * Exponential backoff with jitter, as client-go's reflector does it: many watchers restarted by
 * one API server outage must not come back in lockstep.
 */
export class Backoff {
  private failures = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {
    this.random = options.random ?? Math.random;
  }

  /** Consecutive failures since the last healthy connection. */
  get attempts(): number {
    return this.failures;
  }

  /** The wait before the next attempt; a server's Retry-After is a floor, never shortened. */
  next(retryAfterSeconds?: number): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.failures);
    this.failures += 1;
    const jittered = Math.round(ceiling * (0.5 + this.random() / 2));
    return Math.max(jittered, (retryAfterSeconds ?? 0) * 1000);
  }

  /** Called when a connection ends; resets only if it lived long enough to count as healthy. */
  connectionLasted(ms: number): void {
    if (ms >= this.options.healthyMs) this.failures = 0;
  }

  reset(): void {
    this.failures = 0;
  }
}
