// The bundle in the REAL Espruino interpreter against the local emulator (the device
// oracle: what passes on Node but breaks on Espruino shows up here). Skipped unless
// ESPRUINO points at a Linux build of the interpreter.
import { describe, it, expect, beforeAll } from "vitest";
import { existsSync } from "node:fs";
import { findEspruino, DEFAULT_FIRMWARE, ENABLE_HINT } from "../tools/real-interpreter/run";
import { measureDevice } from "../tools/real-interpreter/measure";
import { registrationRun } from "../tools/real-interpreter/registration";

const found = findEspruino();
const firmware = process.env.FIRMWARE || DEFAULT_FIRMWARE;
const skip = !found.path || !existsSync(firmware);
if (skip) console.log("device.test.ts skipped: " + (found.path ? firmware + " missing (npm run build)" : ENABLE_HINT));

describe.skipIf(skip)("firmware in the real Espruino interpreter (" + ENABLE_HINT + ")", () => {
  let r: any;
  const check = (name: string) => {
    const c = r.checks.find((x: any) => x.name.startsWith(name));
    const aborted = r.checks.find((x: any) => x.name == "scenario ran to the end");
    expect(c, aborted ? aborted.detail : "check " + name + " missing").toBeTruthy();
    expect(c.ok, c.name + ": " + c.detail).toBe(true);
  };
  beforeAll(async () => {
    r = await measureDevice({ espruino: found.path!, firmware });
  }, 180000);

  it("loads without error", () => check("bundle loads without error"));
  it("connects over TLS (the default)", () => check("transport is TLS"));
  it("comes online against the emulator (CONNACK 0)", () => check("comes online"));
  it("subscribes to its topics", () => check("subscribes"));
  it("answers a property set with set_reply 200", () => check("property set"));
  it("gets a post_reply for every post", () => check("every post gets a post_reply"));
  it("does not grow in JsVars from message to message", () => check("JsVars do not grow"));
  it("syncs its clock by NTP", () => check("NTP sync"));
  it("prints no uncaught errors", () => check("no uncaught errors"));
  it("boots online from the config saved in Storage", () => check("reboot comes online"));
});

describe.skipIf(skip)("TLS off, and registration over TLS, in the real interpreter", () => {
  const all = (r: any) => {
    const bad = r.checks.filter((c: any) => !c.ok);
    expect(bad.map((c: any) => c.name + ": " + c.detail)).toEqual([]);
    expect(r.checks.length).toBeGreaterThan(3);
  };
  it("tls: false comes online over plain TCP and works the same", async () => {
    // with the reboot: the RAM budget is checked on the TCP run, booted from Storage
    const r = await measureDevice({ espruino: found.path!, firmware, tls: false, rate: 20 });
    // the leak check is the default run's (its limits assume the full 251 posts)
    all({ checks: r.checks.filter((c: any) => !c.name.startsWith("JsVars do not grow")) });
    expect(r.checks.find((c: any) => c.name == "transport is TCP")!.ok).toBe(true);
    expect(
      r.checks.find((c: any) => c.name.startsWith("firmware JsVars online (booted from Storage) within"))!.ok,
    ).toBe(true);
  }, 180000);
  for (const preregistered of [true, false]) {
    it((preregistered ? "register" : "regnwl") +
      ": registers once, logs in, a restart logs in without registering", async () => {
      all(await registrationRun({ espruino: found.path!, firmware, preregistered }));
    }, 120000);
  }
});
