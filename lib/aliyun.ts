// Alibaba Cloud IoT device credentials (MQTT CONNECT fields) and their validation.
import { type Hash, cryptoKit } from "./crypto";

// Identity: exactly one of deviceSecret (one secret per device), productSecret (dynamic
// registration: the platform answers with a deviceSecret, or with clientId + deviceToken when
// preregistered is false) or clientId + deviceToken (a preregistration-free device's login).
export interface Device {
  productKey: string;
  deviceName: string;
  deviceSecret?: string;
  productSecret?: string;
  preregistered?: boolean;
  clientId?: string;
  deviceToken?: string;
  region?: string;
  instanceId?: string;
  host?: string;
  port?: number;
  signMethod?: string;
  clientIdPrefix?: string; // the clientId's id; default `${productKey}.${deviceName}`
  tls?: boolean; // true (default): TLS, securemode=2; false: TCP, securemode=3
  timestamp?: number; // integer epoch ms; signed only when given (the board's clock reads 1970 until synced)
}

// Validators for checkDevice and, through its `more` callback, lib/config.ts: created per call
// (setup and boot only), not resident. Errors name the field and the rule, never the value.
export type Bad = (field: string, rule: string) => never;
// object[field] must be set (unless optional) and match pattern: trivial regexes only
// (Espruino has no {m,n}; lengths are checked apart). Never echoes the value.
export type Str = (
  object: any,
  field: string,
  pattern: RegExp,
  rule: string,
  optional?: any,
  minLength?: any,
  maxLength?: any,
) => void;
// object[field], when set, must be an integer min..max.
export type Int = (object: any, field: string, min: number, max: number, rule: string) => void;

/** Throws an Error naming the field and its rule; messages never contain the secret.
 * more: checks run first with the same validators (lib/config.ts: the other config fields). */
export function checkDevice(device: Device, more?: (str: Str, int: Int, bad: Bad) => void): void {
  const bad: Bad = (field, rule) => {
    throw Error(field + ": " + rule);
  };
  const str: Str = (object, field, pattern, rule, optional, minLength, maxLength) => {
    const value = object[field];
    if (!optional && !value) bad(field, "required");
    if (
      value != null &&
      (typeof value != "string" || value.length < minLength || value.length > maxLength || !pattern.test(value))
    )
      bad(field, rule);
  };
  const int: Int = (object, field, min, max, rule) => {
    const value = object[field];
    if (value != null && !(typeof value == "number" && value % 1 == 0 && value >= min && value <= max))
      bad(field, rule);
  };
  if (more) more(str, int, bad);
  const fields: any = device || {},
    signMethod = fields.signMethod,
    signMethods = ["hmacmd5", "hmacsha1", "hmacsha256"];
  // <= 31 keeps the default client id `${productKey}.${deviceName}` within 64 chars
  str(fields, "productKey", /^[a-zA-Z\d]+$/, "1-31 letters and digits", 0, 0, 31);
  str(fields, "deviceName", /^[\w@.:-]+$/, "4-32 chars of letters, digits, -_@.:", 0, 4, 32);
  // exactly one identity group (a preregistration-free login needs clientId and deviceToken);
  // the secrets: visible ASCII, 1-128 chars
  const secrets = ["deviceSecret", "productSecret", "deviceToken"],
    given = secrets.filter((field) => fields[field] != null);
  if (!fields.deviceToken != !fields.clientId) bad("clientId", "with deviceToken, and only then");
  if (given.length != 1) bad(given.join("+") || "deviceSecret", "exactly one of " + secrets.join(", "));
  secrets.forEach((field) => str(fields, field, /^[!-~]+$/, "1-128 visible ASCII chars, no spaces", 1, 0, 128));
  // visible ASCII except | , = which would break `id|securemode=3,...|`
  ["clientIdPrefix", "clientId"].forEach((field) =>
    str(fields, field, /^[!-+\--<>-{}~]+$/, "1-64 visible ASCII chars, no | , =", 1, 0, 64),
  );
  // registration: TLS only (the platform's rule)
  if (fields.productSecret && fields.tls === false) bad("productSecret", "registration needs tls: true");
  if (fields.preregistered != null && !fields.productSecret) bad("preregistered", "only with productSecret");
  ["tls", "preregistered"].forEach((field) => {
    if (fields[field] != null && typeof fields[field] != "boolean") bad(field, "true or false");
  });
  ["host", "region", "instanceId"].forEach((field) => str(fields, field, /^[\w.-]+$/, "letters, digits, -._", 1));
  if (signMethod != null && signMethods.indexOf(signMethod) < 0) bad("signMethod", "one of " + signMethods.join(", "));
  int(fields, "port", 1, 65535, "integer 1-65535");
  // Espruino's Date.now() is fractional: the caller floors it
  int(fields, "timestamp", 0, 1e15, "integer epoch ms");
}

/** CONNECT fields for d; sha1/sha256 are the native hashes (MD5 is ours). Without a
 * timestamp the password never changes and the platform does not check freshness:
 * it can be replayed, so it is as secret as deviceSecret (never log it).
 * With productSecret: the registration CONNECT (docs/ALIYUN.md §6), signed over a random
 * number from random() (uniform in [0, 1)); with deviceToken: the preregistration-free login. */
export function credentials(
  device: Device,
  sha1: Hash,
  sha256: Hash,
  random?: () => number,
): { host: string; port: number; clientId: string; username: string; password: string } {
  checkDevice(device);
  const productKey = device.productKey,
    deviceName = device.deviceName,
    signMethod = device.signMethod || "hmacsha256",
    id = device.clientIdPrefix || productKey + "." + deviceName,
    productSecret = device.productSecret,
    token = device.deviceToken,
    instanceId = device.instanceId,
    // registration signs a random number instead of clientId and timestamp
    nonce = productSecret ? "" + Math.floor(random!() * 1e9) : "",
    timestamp = device.timestamp != null && !nonce ? "" + device.timestamp : "",
    kit = cryptoKit();
  return {
    host:
      device.host ||
      (instanceId ? instanceId + ".mqtt.iothub" : productKey + ".iot-as-mqtt." + (device.region || "cn-shanghai")) +
        ".aliyuncs.com",
    port: device.port || 1883,
    clientId: token
      ? device.clientId + "|securemode=-2,authType=connwl|"
      : id +
        "|securemode=" +
        (device.tls === false ? 3 : 2) +
        (nonce &&
          ",authType=" +
            (device.preregistered === false ? "regnwl" : "register") +
            ",random=" +
            nonce +
            (instanceId && device.preregistered === false ? ",instanceId=" + instanceId : "")) +
        ",signmethod=" +
        signMethod +
        (timestamp && ",timestamp=" + timestamp) +
        "|",
    username: deviceName + "&" + productKey,
    // content: params sorted by name, each as name + value
    password:
      token ||
      kit._hex(
        kit._hmac(
          signMethod == "hmacmd5" ? kit._md5 : signMethod == "hmacsha1" ? sha1 : sha256,
          productSecret || device.deviceSecret!,
          (nonce ? "" : "clientId" + id) +
            "deviceName" +
            deviceName +
            "productKey" +
            productKey +
            (nonce ? "random" + nonce : timestamp && "timestamp" + timestamp),
        ),
      ),
  };
}
