// Alibaba Cloud IoT device credentials (MQTT CONNECT fields) and their validation.
import { Hash, md5, hmac, hex } from "./crypto";

export interface Device {
  productKey: string; deviceName: string; deviceSecret: string;
  region?: string; instanceId?: string; host?: string; port?: number;
  signMethod?: string;
  clientIdPrefix?: string; // the clientId's id; default `${productKey}.${deviceName}`
  securemode?: 2 | 3;      // 3 = TCP (default), 2 = TLS
  timestamp?: number;      // integer epoch ms; signed only when given (the board's clock reads 1970 until synced)
}

export const SIGN_METHODS = ["hmacmd5", "hmacsha1", "hmacsha256"];

// Shared with lib/config.ts: errors name the field and the rule, never the value.
export function bad(field: string, rule: string): never { throw Error(field + ": " + rule) }

// o[f] must be set (unless opt) and match re: trivial regexes only (Espruino has
// no {m,n}; lengths are checked apart). Never echoes the value.
export function str(o: any, f: string, re: RegExp, rule: string, opt?: any, min?: any, max?: any) {
  const s = o[f];
  if (!opt && !s) bad(f, "required");
  if (s != null && (typeof s != "string" || s.length < min || s.length > max || !re.test(s))) bad(f, rule);
}

// o[f], when set, must be an integer lo..hi.
export function int(o: any, f: string, lo: number, hi: number, rule: string) {
  const v = o[f];
  if (v != null && !(typeof v == "number" && v % 1 == 0 && v >= lo && v <= hi)) bad(f, rule);
}

/** Throws an Error naming the field and its rule; messages never contain the secret. */
export function checkDevice(d: Device): void {
  const o: any = d || {}, m = o.signMethod;
  // <= 31 keeps the default client id `${productKey}.${deviceName}` within 64 chars
  str(o, "productKey", /^[a-zA-Z\d]+$/, "1-31 letters and digits", 0, 0, 31);
  str(o, "deviceName", /^[\w@.:-]+$/, "4-32 chars of letters, digits, -_@.:", 0, 4, 32);
  str(o, "deviceSecret", /^[!-~]+$/, "1-128 visible ASCII chars, no spaces", 0, 0, 128);
  // visible ASCII except | , = which would break `id|securemode=3,...|`
  str(o, "clientIdPrefix", /^[!-+\--<>-{}~]+$/, "1-64 visible ASCII chars, no | , =", 1, 0, 64);
  ["host", "region", "instanceId"].forEach(f => str(o, f, /^[\w.-]+$/, "letters, digits, -._", 1));
  if (m != null && SIGN_METHODS.indexOf(m) < 0) bad("signMethod", "one of " + SIGN_METHODS.join(", "));
  int(o, "port", 1, 65535, "integer 1-65535");
  int(o, "securemode", 2, 3, "2 (TLS) or 3 (TCP)");
  // Espruino's Date.now() is fractional: the caller floors it
  int(o, "timestamp", 0, 1e15, "integer epoch ms");
}

/** CONNECT fields for d; sha1/sha256 are the native hashes (MD5 is ours). Without a
 * timestamp the password never changes and the platform does not check freshness:
 * it can be replayed, so it is as secret as deviceSecret (never log it). */
export function credentials(d: Device, sha1: Hash, sha256: Hash): { host: string, port: number, clientId: string, username: string, password: string } {
  checkDevice(d);
  const pk = d.productKey, dn = d.deviceName, m = d.signMethod || "hmacsha256", id = d.clientIdPrefix || pk + "." + dn,
    ts = d.timestamp != null ? "" + d.timestamp : "";
  return {
    host: d.host || (d.instanceId ? d.instanceId + ".mqtt.iothub" :
      pk + ".iot-as-mqtt." + (d.region || "cn-shanghai")) + ".aliyuncs.com",
    port: d.port || 1883,
    clientId: id + "|securemode=" + (d.securemode || 3) + ",signmethod=" + m + (ts && ",timestamp=" + ts) + "|",
    username: dn + "&" + pk,
    // content: params sorted by name, each as name + value
    password: hex(hmac(m == "hmacmd5" ? md5 : m == "hmacsha1" ? sha1 : sha256, d.deviceSecret,
      "clientId" + id + "deviceName" + dn + "productKey" + pk + (ts && "timestamp" + ts)))
  };
}
