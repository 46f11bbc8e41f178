// "Equal jitter" reconnect delays: attempt n waits U(d/2, d), d = min(cap, base·2^n),
// never under 1 s, so gaps grow to the cap and a fleet that lost the broker spreads out.
// A closure, not a class: no `this.` in the bundle. `new Backoff(..)` works too.
export interface Backoff {
  /** The next delay in ms; rand is a uniform sample in [0, 1]. */
  next(rand: number): number;
  reset(): void;
}
export function Backoff(baseMs: number, capMs: number): Backoff {
  let attempt = 0;
  return {
    next(rand) {
      const ceiling = Math.min(capMs, baseMs * Math.pow(2, attempt));
      if (ceiling < capMs) attempt++; // stop counting at the cap: no overflow after months
      return Math.max(1000, ceiling / 2 * (1 + rand));
    },
    reset() { attempt = 0; },
  };
}
