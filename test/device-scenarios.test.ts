// Fault scenarios for the bundle in the REAL Espruino interpreter (tools/real-interpreter/scenarios.ts):
// broker restart, dead link, hostile bytes, twin device, Wi-Fi loss, reboots, soak. Real time
// (keepAlive 30): several minutes in all. Skipped unless ESPRUINO points at a Linux build.
import { describe, it, expect } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { findEspruino, DEFAULT_FIRMWARE, ENABLE_HINT } from "../tools/real-interpreter/run";
import { runScenario } from "../tools/real-interpreter/scenarios";
import { skippedThisArrows } from "../tools/build/parser-traps";

const found = findEspruino();
const firmware = process.env.FIRMWARE || DEFAULT_FIRMWARE;
const skip = !found.path || !existsSync(firmware);
if (skip)
  console.log(
    "device-scenarios.test.ts skipped: " + (found.path ? firmware + " missing (npm run build)" : ENABLE_HINT),
  );

async function run(name: string, o?: any) {
  const r = await runScenario(name, Object.assign({ espruino: found.path, firmware }, o));
  const bad = r.checks.filter((c: any) => !c.ok).map((c: any) => c.name + ": " + c.detail);
  expect(bad, JSON.stringify(r.figures)).toEqual([]);
  expect(r.checks.length).toBeGreaterThan(0);
}

// Static: needs only the bundle. The debug interpreter aborts on these (found by the hostile run).
describe.skipIf(!existsSync(firmware))(
  "bundle: no arrow using `this` in a skipped expression (Espruino debug-build abort)",
  () => {
    it("finds none in " + firmware, () => {
      expect(skippedThisArrows(readFileSync(firmware, "latin1"))).toEqual([]);
    });
    it("the scan finds the known shapes", () => {
      const bad = ["a&&f(()=>this.x)", "a?f(()=>this.x):1", "if(a)f(()=>this.x)", "g(x=>f(()=>this.x))"];
      for (const b of bad) expect(skippedThisArrows("function o(){" + b + "}"), b).toHaveLength(1);
      expect(skippedThisArrows("function o(){if(a){f(()=>this.x)}const m=this;a&&f(()=>m.x);f(()=>this.x)}")).toEqual(
        [],
      );
    });
  },
);

describe.skipIf(skip)("firmware fault scenarios in the real Espruino interpreter (" + ENABLE_HINT + ")", () => {
  it("status is plain JSON with the documented keys and states", () => run("statusShape"), 60000);
  it("broker restart: back online, resubscribed, offline posts delivered in order", () => run("brokerRestart"), 120000);
  it("dead link (broker mute): noticed within keepAlive + 30 s, then reconnects", () => run("deadLink"), 180000);
  it(
    "hostile broker bytes, a silent broker and a closed port: drop, back off, no crash, bounded JsVars",
    () => run("hostile"),
    240000,
  );
  it("hostile payloads on its own topics (valid framing): no crash, stays online", () => run("hostilePayloads"), 60000);
  it("twin device with the same credentials: both back off and say so, no tight loop", () => run("twin"), 180000);
  it("Wi-Fi loss: offline at once, Wi-Fi retried with backoff, queued posts delivered", () => run("wifiLoss"), 120000);
  it("reboots and kills during config writes: always boots online from Storage", () => run("reboot"), 240000);
  it(
    "soak: posts every 200 ms, sets every 3 s, a broker restart: no loss, no JsVar growth",
    () => run("soak", { soakMs: Number(process.env.SOAK_MS) || 120000 }),
    400000,
  );
});
