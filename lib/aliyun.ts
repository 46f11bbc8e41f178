// Alibaba Cloud IoT device credentials (MQTT CONNECT fields) and their validation.
import { Hash, md5, hmac, hex } from "./crypto";

export interface Device {
  productKey: string; deviceName: string; deviceSecret: string;
  region?: string; instanceId?: string; host?: string; port?: number;
  signMethod?: string;
  clientIdPrefix?: string; // the clientId's id; default `${productKey}.${deviceName}`
  securemode?: 2 | 3;      // 3 = TCP (default), 2 = TLS
  timestamp?: number;      // epoch ms; signed only when given (the board's clock reads 1970 until synced)
}

export const SIGN_METHODS = ["hmacmd5", "hmacsha1", "hmacsha256"];

function bad(field: string, rule: string): never { throw new Error(field + ": " + rule) }

// o[f] must be set (unless opt) and match re: trivial regexes only (Espruino has
// no {m,n}; lengths are checked apart). Never echoes the value.
function str(o: any, f: string, re: RegExp, rule: string, opt?: any, min?: any, max?: any) {
  const s = o[f];
  if (!opt && !s) bad(f, "required");
  if (s != null && (typeof s != "string" || s.length < min || s.length > max || !re.test(s))) bad(f, rule);
}

const ident = (d: Device) => d.clientIdPrefix != null ? d.clientIdPrefix : d.productKey + "." + d.deviceName;

/** Throws an Error naming the field and its rule; messages never contain the secret. */
export function checkDevice(d: Device): void {
  const o: any = d || {}, m = o.signMethod, p = o.port, t = o.timestamp, sm = o.securemode;
  // <= 31 keeps the default client id `${productKey}.${deviceName}` within 64 chars
  str(o, "productKey", /^[a-zA-Z\d]+$/, "1-31 letters and digits", 0, 0, 31);
  str(o, "deviceName", /^[\w@.:-]+$/, "4-32 chars of letters, digits, -_@.:", 0, 4, 32);
  str(o, "deviceSecret", /^[!-~]+$/, "visible ASCII, no spaces");
  // visible ASCII except | , = which would break `id|securemode=3,...|`
  str(o, "clientIdPrefix", /^[!-+\--<>-{}~]+$/, "1-64 visible ASCII chars, no | , =", 1, 0, 64);
  ["host", "region", "instanceId"].forEach(f => str(o, f, /^[\w.-]+$/, "letters, digits, -._", 1));
  if (m != null && SIGN_METHODS.indexOf(m) < 0) bad("signMethod", "one of " + SIGN_METHODS.join(", "));
  if (p != null && !(typeof p == "number" && p % 1 == 0 && p > 0 && p < 65536)) bad("port", "integer 1-65535");
  if (sm != null && sm !== 2 && sm !== 3) bad("securemode", "2 (TLS) or 3 (TCP)");
  if (t != null && !(typeof t == "number" && t >= 0 && t < 1e15)) bad("timestamp", "epoch ms");
}

/** CONNECT fields for d; sha1/sha256 are the native hashes (MD5 is ours). */
export function credentials(d: Device, sha1: Hash, sha256: Hash): { host: string, port: number, clientId: string, username: string, password: string } {
  checkDevice(d);
  const pk = d.productKey, dn = d.deviceName, m = d.signMethod || "hmacsha256", id = ident(d),
    // Espruino's Date.now() is fractional
    ts = d.timestamp != null ? "" + Math.floor(d.timestamp) : "";
  return {
    host: d.host || (d.instanceId ? d.instanceId + ".mqtt.iothub.aliyuncs.com" :
      pk + ".iot-as-mqtt." + (d.region || "cn-shanghai") + ".aliyuncs.com"),
    port: d.port || 1883,
    clientId: id + "|securemode=" + (d.securemode || 3) + ",signmethod=" + m + (ts && ",timestamp=" + ts) + "|",
    username: dn + "&" + pk,
    // content: params sorted by name, each as name + value
    password: hex(hmac(m == "hmacmd5" ? md5 : m == "hmacsha1" ? sha1 : sha256, d.deviceSecret,
      "clientId" + id + "deviceName" + dn + "productKey" + pk + (ts && "timestamp" + ts)))
  };
}
