// registrationRun(): dynamic registration in the real interpreter, over TLS against the
// emulator. Boot 1: iot.setup() with a productSecret (preregistered or not) registers once,
// stores what the platform answered and logs in with it. Boot 2, same Storage: it logs in
// without registering. Checks pass/fail as in measure.ts.
import { rmSync } from "node:fs";
import { startEmulator } from "../emulator/index";
import { startDevice, restartInSameStorage, errorLines, randomName, type DeviceRun } from "./run";
import type { Check } from "./measure";

export async function registrationRun(o: {
  espruino: string;
  firmware?: string;
  preregistered?: boolean;
  log?: (l: string) => void;
}): Promise<{ ok: boolean; checks: Check[] }> {
  const log = o.log || (() => {});
  const nwl = o.preregistered === false;
  const productSecret = randomName(16);
  const dev = {
    productKey: randomName(11),
    deviceName: nwl ? "espruino-nwl" : "espruino-reg",
    deviceSecret: randomName(32),
  };
  // regnwl: the device is not in the registry yet; the product (with its secret) is
  const registry = nwl
    ? [{ productKey: dev.productKey, deviceName: "other-device", deviceSecret: randomName(32), productSecret }]
    : [{ ...dev, productSecret }];
  const emu = await startEmulator({ port: 0, devices: registry, log: (l) => log("emu: " + l) });
  const connects: any[] = [],
    registers: any[] = [];
  emu.on("connect", (c: any) => connects.push(c));
  emu.on("register", (c: any) => registers.push(c));
  const checks: Check[] = [];
  const check = (name: string, ok: unknown, detail?: unknown) => {
    checks.push({ name, ok: !!ok, detail: detail === undefined ? "" : String(detail) });
    log((ok ? "ok   " : "FAIL ") + name + (detail !== undefined ? " (" + detail + ")" : ""));
  };
  const setup = {
    ssid: "emulator",
    password: "password123",
    host: "127.0.0.1",
    port: emu.port,
    productKey: dev.productKey,
    deviceName: dev.deviceName,
    productSecret,
    ...(nwl ? { preregistered: false } : {}),
  };
  let d: DeviceRun | null = null,
    d2: DeviceRun | null = null;
  try {
    d = startDevice({ espruino: o.espruino, firmware: o.firmware, setup, plan: { quit: false }, timeoutMs: 60000 });
    d.markers.on("line", (l) => log("dev: " + l));
    const on = await d.wait("online", 30000, true);
    check(
      "registers over TLS (" + (nwl ? "regnwl" : "register") + ") and comes online",
      registers.length === 1 && connects[0].tls && connects[0].authType === (nwl ? "regnwl" : "register"),
      connects.map((c) => (c.tls ? "tls " : "tcp ") + (c.authType || "login")).join(", ") +
        "; online after " +
        on.ms +
        " ms",
    );
    check(
      "logs in with what the platform answered",
      connects.length >= 2 && connects[1].authType === (nwl ? "connwl" : undefined),
      connects[1]?.clientId,
    );
    await d.kill();
    const errs = errorLines(d.output());
    check("no uncaught errors while registering", errs.length === 0, errs.join(" | "));
    const before = connects.length;
    d2 = restartInSameStorage(d, o, log);
    const on2 = await d2.wait("online", 20000, true);
    check(
      "a restart logs in with the stored credentials, never registers again",
      registers.length === 1 && connects.length > before && !/register|regnwl/.test(connects[before].authType || ""),
      "online after " + on2.ms + " ms; registrations " + registers.length,
    );
    const secretsSeen = [productSecret]
      .concat(emu.devices.map((x: any) => x.deviceToken || x.deviceSecret))
      .filter((s) => s && (d!.output() + d2!.output()).includes(s));
    check("no secret or token on the console", secretsSeen.length === 0, secretsSeen.length + " seen");
  } catch (e: any) {
    check("scenario ran to the end", false, e.message);
  } finally {
    if (d) await d.kill();
    if (d2) await d2.kill();
    await emu.close();
    if (d) rmSync(d.dir, { recursive: true, force: true });
  }
  return { ok: checks.every((c) => c.ok), checks };
}
