import { describe, it, expect } from "vitest";
import { backoffDelay } from "../lib/backoff";

// The old object API over the pure function: a counter the caller keeps (as Link does).
const Backoff = (base: number, cap: number) => {
  let attempt = 0;
  return {
    next: (rand: number) => backoffDelay(attempt++, base, cap, rand),
    reset: () => {
      attempt = 0;
    },
  };
};

// Equal jitter: attempt n waits between d/2 and d, d = min(cap, base·2^n), and never under 1 s.
const d = (base: number, cap: number, n: number) => Math.min(cap, base * 2 ** n);

describe("backoffDelay (equal jitter)", () => {
  it("network schedule 1 s → 60 s: random 1 gives d, random 0 gives d/2 (at least 1 s)", () => {
    const hi = Backoff(1000, 60000),
      lo = Backoff(1000, 60000);
    const his: number[] = [],
      los: number[] = [];
    for (let n = 0; n < 10; n++) {
      his.push(hi.next(1));
      los.push(lo.next(0));
    }
    expect(his).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000]);
    expect(los).toEqual([1000, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  });

  it("long schedule 2 s → 15 min", () => {
    const b = Backoff(2000, 900000),
      s: number[] = [];
    for (let n = 0; n < 11; n++) s.push(b.next(1));
    expect(s).toEqual([2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 512000, 900000, 900000]);
  });

  it("stays within [max(1 s, d/2), d] for any random sample, and keeps working after months", () => {
    const b = Backoff(1000, 60000);
    for (let n = 0; n < 5000; n++) {
      const r = (n * 0.6180339887) % 1,
        v = b.next(r),
        D = d(1000, 60000, n);
      expect(v).toBeGreaterThanOrEqual(Math.max(1000, D / 2));
      expect(v).toBeLessThanOrEqual(D);
      expect(Number.isFinite(v)).toBe(true);
    }
  });

  it("reset() starts the series again", () => {
    const b = Backoff(1000, 60000);
    b.next(1);
    b.next(1);
    b.next(1);
    b.reset();
    expect(b.next(1)).toBe(1000);
    expect(b.next(1)).toBe(2000);
  });
});
