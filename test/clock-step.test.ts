// The link's deadlines run on the uptime clock (lib/link.ts): a step of the wall clock, made
// by anyone (NTP, an app, the REPL, the Web IDE when it connects), must not move them. Booted
// from Storage in the real interpreter against the local emulator, online with keepAlive 30:
// the clock is stepped back 2 min, then forward a year; the watchdog must go on being kicked
// every period/3 and the session must stay up. Skipped unless ESPRUINO is set.
import { describe, it, expect } from "vitest";
import { existsSync, rmSync } from "node:fs";
import { startEmulator } from "../tools/emulator/index";
import { findEspruino, startDevice, randomName, DEFAULT_FIRMWARE, ENABLE_HINT } from "../tools/real-interpreter/run";

const found = findEspruino();
const firmware = process.env.FIRMWARE || DEFAULT_FIRMWARE;
const skip = !found.path || !existsSync(firmware);
if (skip)
  console.log("clock-step.test.ts skipped: " + (found.path ? firmware + " missing (npm run build)" : ENABLE_HINT));

// Plain ES5 for the interpreter: after the first online, step back 120 s; 25 s later step
// forward a year; 50 s after the first step report the kicks, the longest gap and the status.
const POSTLUDE = `(function(SETUP,PLAN){var done=0;iot.on("online",function(){if(done++)return;setTimeout(function(){
var kicks=__wd.kicks;setTime(getTime()-120);
setTimeout(function(){setTime(getTime()+86400*365)},25000);
setTimeout(function(){__out("done",{kicks:__wd.kicks-kicks,gap:__wd.gap,status:iot.status()})},50000)},500)});})(%SETUP%,%PLAN%);`;

describe.skipIf(skip)("clock steps in the real Espruino interpreter (" + ENABLE_HINT + ")", () => {
  it("a step back or forward of the wall clock moves no deadline: the watchdog is kicked, the session stays", async () => {
    const dev = { productKey: randomName(11), deviceName: "clock-step", deviceSecret: randomName(32) };
    const emu = await startEmulator({ port: 0, devices: [dev], log: () => {} });
    const setup = Object.assign(
      { ssid: "emulator", password: "password123", host: "127.0.0.1", port: emu.port, tls: false, keepAlive: 30 },
      dev,
    );
    const runs: ReturnType<typeof startDevice>[] = [];
    try {
      const first = startDevice({ espruino: found.path!, firmware, setup, plan: {}, timeoutMs: 30000 });
      runs.push(first);
      await first.wait("online", 15000, true);
      await first.kill();
      const d = startDevice({
        espruino: found.path!,
        firmware,
        dir: first.dir,
        postlude: POSTLUDE,
        setup: null,
        plan: {},
        timeoutMs: 90000,
      });
      runs.push(d);
      const r = await d.wait("done", 80000, true);
      // watchdogSeconds 40: kicked every 13.3 s, three times in 50 s
      expect(r.kicks).toBeGreaterThanOrEqual(3);
      expect(r.gap).toBeLessThan(20);
      expect(r.status).toMatchObject({ state: "online", connects: 1, reconnects: 0 });
      expect(r.status.uptime).toBeLessThan(120); // the uptime did not jump with the clock
    } finally {
      for (const d of runs) {
        await d.kill();
        rmSync(d.dir, { recursive: true, force: true });
      }
      await emu.close();
    }
  }, 150000);
});
