// "Equal jitter" reconnect delays: attempt n (from 0) waits U(d/2, d), d = min(cap, base·2^n),
// never under 1 s, so gaps grow to the cap and a fleet that lost the broker spreads out.
// A pure function over a counter the caller keeps: plain data costs fewer JsVars than an
// object of closures per schedule.
/** The delay in ms before attempt `attempt`; rand is a uniform sample in [0, 1]. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, rand: number): number {
  // the exponent stops at 30: no overflow after months of attempts
  return Math.max(1000, (Math.min(capMs, baseMs * Math.pow(2, Math.min(attempt, 30))) / 2) * (1 + rand));
}
