// The device registry: which devices may log in, with which secrets. Either given inline or read
// from a JSON file (default .emulator/devices.json) that is created with one random demo device
// when missing, so `npm run emulator` works on a fresh checkout. The file is written 0600: it
// holds device secrets, which never go to the log.
import { randomInt } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname } from "node:path";

export interface Device {
  productKey: string;
  deviceName: string;
  /** absent for a device that exists only through preregistration-free registration */
  deviceSecret?: string;
  /** the product's secret: dynamic registration of this product's devices is on */
  productSecret?: string;
  /** set by a preregistration-free registration (regnwl): its connwl login */
  clientId?: string;
  deviceToken?: string;
}

export interface Registry {
  devices: Device[];
  /** the device created with a new devices file, else null */
  demo: Device | null;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomString(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}

/** Read `file`, or create it with one demo device. */
export function loadDevices(file: string): Registry {
  if (!existsSync(file)) {
    const demo = { productKey: randomString(11), deviceName: "demo-device", deviceSecret: randomString(32) };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify([demo], null, 2) + "\n", { mode: 0o600 });
    return { devices: [demo], demo };
  }
  let list: unknown;
  try {
    list = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error("emulator: devices file " + file + " is not valid JSON: " + (e as Error).message);
  }
  return { devices: checkDevices(list, file), demo: null };
}

/** Validate a device list; `where` names its origin in error messages. */
export function checkDevices(list: unknown, where: string): Device[] {
  if (!Array.isArray(list)) throw new Error("emulator: devices (" + where + ") must be a JSON array");
  return list.map((d, i) => {
    for (const k of ["productKey", "deviceName", d?.productSecret ? "productSecret" : "deviceSecret"]) {
      if (!d || typeof d[k] !== "string" || !d[k])
        throw new Error("emulator: device #" + i + " in " + where + " has no " + k);
    }
    const dev: Device = { productKey: d.productKey, deviceName: d.deviceName };
    for (const k of ["deviceSecret", "productSecret", "clientId", "deviceToken"] as const)
      if (typeof d[k] === "string") dev[k] = d[k];
    return dev;
  });
}

/** The product secret of `pk` (any of its devices carries it), if dynamic registration is on. */
export function productSecretOf(devices: Device[], pk: string): string | undefined {
  const d = devices.find((x) => x.productKey === pk && x.productSecret);
  return d?.productSecret;
}

/** The registered device `pk`/`dn`, if any. */
export function findDevice(devices: Device[], pk: string, dn: string): Device | undefined {
  return devices.find((d) => d.productKey === pk && d.deviceName === dn);
}
