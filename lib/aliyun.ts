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

// object[field] must be set (unless optional) and match pattern: trivial regexes only
// (Espruino has no {m,n}; lengths are checked apart). Never echoes the value.
export function str(object: any, field: string, pattern: RegExp, rule: string, optional?: any, minLength?: any, maxLength?: any) {
  const value = object[field];
  if (!optional && !value) bad(field, "required");
  if (value != null && (typeof value != "string" || value.length < minLength || value.length > maxLength || !pattern.test(value))) bad(field, rule);
}

// object[field], when set, must be an integer min..max.
export function int(object: any, field: string, min: number, max: number, rule: string) {
  const value = object[field];
  if (value != null && !(typeof value == "number" && value % 1 == 0 && value >= min && value <= max)) bad(field, rule);
}

/** Throws an Error naming the field and its rule; messages never contain the secret. */
export function checkDevice(device: Device): void {
  const fields: any = device || {}, signMethod = fields.signMethod;
  // <= 31 keeps the default client id `${productKey}.${deviceName}` within 64 chars
  str(fields, "productKey", /^[a-zA-Z\d]+$/, "1-31 letters and digits", 0, 0, 31);
  str(fields, "deviceName", /^[\w@.:-]+$/, "4-32 chars of letters, digits, -_@.:", 0, 4, 32);
  str(fields, "deviceSecret", /^[!-~]+$/, "1-128 visible ASCII chars, no spaces", 0, 0, 128);
  // visible ASCII except | , = which would break `id|securemode=3,...|`
  str(fields, "clientIdPrefix", /^[!-+\--<>-{}~]+$/, "1-64 visible ASCII chars, no | , =", 1, 0, 64);
  ["host", "region", "instanceId"].forEach(field => str(fields, field, /^[\w.-]+$/, "letters, digits, -._", 1));
  if (signMethod != null && SIGN_METHODS.indexOf(signMethod) < 0) bad("signMethod", "one of " + SIGN_METHODS.join(", "));
  int(fields, "port", 1, 65535, "integer 1-65535");
  int(fields, "securemode", 2, 3, "2 (TLS) or 3 (TCP)");
  // Espruino's Date.now() is fractional: the caller floors it
  int(fields, "timestamp", 0, 1e15, "integer epoch ms");
}

/** CONNECT fields for d; sha1/sha256 are the native hashes (MD5 is ours). Without a
 * timestamp the password never changes and the platform does not check freshness:
 * it can be replayed, so it is as secret as deviceSecret (never log it). */
export function credentials(device: Device, sha1: Hash, sha256: Hash): { host: string, port: number, clientId: string, username: string, password: string } {
  checkDevice(device);
  const productKey = device.productKey, deviceName = device.deviceName, signMethod = device.signMethod || "hmacsha256",
    id = device.clientIdPrefix || productKey + "." + deviceName,
    timestamp = device.timestamp != null ? "" + device.timestamp : "";
  return {
    host: device.host || (device.instanceId ? device.instanceId + ".mqtt.iothub" :
      productKey + ".iot-as-mqtt." + (device.region || "cn-shanghai")) + ".aliyuncs.com",
    port: device.port || 1883,
    clientId: id + "|securemode=" + (device.securemode || 3) + ",signmethod=" + signMethod + (timestamp && ",timestamp=" + timestamp) + "|",
    username: deviceName + "&" + productKey,
    // content: params sorted by name, each as name + value
    password: hex(hmac(signMethod == "hmacmd5" ? md5 : signMethod == "hmacsha1" ? sha1 : sha256, device.deviceSecret,
      "clientId" + id + "deviceName" + deviceName + "productKey" + productKey + (timestamp && "timestamp" + timestamp)))
  };
}
