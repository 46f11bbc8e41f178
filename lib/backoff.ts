// "Equal jitter" reconnect delays: attempt n waits U(d/2, d), d = min(cap, base·2^n),
// never under 1 s, so gaps grow to the cap and a fleet that lost the broker spreads out.
export class Backoff {
  _b: number; _c: number; _n: number;
  constructor(baseMs: number, capMs: number) {
    this._b = baseMs;
    this._c = capMs;
    this._n = 0;
  }

  /** The next delay in ms; rand is a uniform sample in [0, 1]. */
  next(rand: number): number {
    const d = Math.min(this._c, this._b * Math.pow(2, this._n));
    if (d < this._c) this._n++; // stop counting at the cap: no overflow after months
    return Math.max(1000, d / 2 * (1 + rand));
  }

  reset(): void {
    this._n = 0;
  }
}
