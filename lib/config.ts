// Console config: field rules (the device's identity and endpoint included, for lib/aliyun.ts's
// credentials too), group merge, masking. Messages name fields, never values.
import type { Device } from "./aliyun";

// Validators for checkDevice and, through its `more` callback, the other config fields: created
// per call (setup, boot, each session's credentials), not resident. Errors name the field and
// the rule, never the value.
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

export interface ConfigKit {
  _checkDevice(device: Device, more?: (str: Str, int: Int, bad: Bad) => void): void;
  _fieldNames(check?: any, config?: any): string[];
  _validate(config: any): void;
  _merge(stored: any, patch: any): any;
  _mask(config: any): any;
}

/**
 * The config functions, created by each call and freed when the caller drops them (RAM: none
 * of them is resident on the device; the console calls this at boot, in setup, show and help).
 * The named exports below are the same functions one at a time, for the host (tests); the
 * bundle leaves them out.
 */
export function configKit(): ConfigKit {
  /** Throws an Error naming the field and its rule; messages never contain the secret.
   * more: checks run first with the same validators (lib/config.ts: the other config fields). */
  const checkDevice = (device: Device, more?: (str: Str, int: Int, bad: Bad) => void): void => {
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
    if (signMethod != null && signMethods.indexOf(signMethod) < 0)
      bad("signMethod", "one of " + signMethods.join(", "));
    int(fields, "port", 1, 65535, "integer 1-65535");
    // Espruino's Date.now() is fractional: the caller floors it
    int(fields, "timestamp", 0, 1e15, "integer epoch ms");
  };

  // Every known field, in the fixed order iot.show() prints them, in groups that are set together
  // so identities never mix: Wi-Fi [0, 2); name [2, 4); identity [4, 9): productKey + deviceName +
  // ONE of deviceSecret | productSecret (+ preregistered) | clientId + deviceToken (lib/aliyun.ts
  // checks which), naming any of these sets a new identity; endpoint [9, 12): alternatives, setting
  // one removes the others. A new array per call from a literal (which stays in flash): resident
  // arrays of strings cost RAM, and only setup, boot and the console need them.
  // With check: first checks that config is an object without unknown field names (all are named).
  const fieldNames = (check?: any, config?: any): string[] => {
    const known =
      "ssid,password,productKey,deviceName,deviceSecret,productSecret,preregistered,clientId,deviceToken,region,instanceId,host,port,tls,signMethod,keepAlive,telnet,logLevel".split(
        ",",
      );
    if (check) {
      if (!config || typeof config != "object") throw Error("config: not an object");
      const unknown = Object.keys(config).filter((field) => known.indexOf(field) < 0);
      if (unknown.length) throw Error("unknown field: " + unknown.join(", "));
    }
    return known;
  };

  // Throws an Error naming the field and the rule when config is not a complete, valid config.
  const validateConfig = (config: any): void => {
    fieldNames(1, config);
    // the device group's fields (required ones included), after these
    checkDevice(config, (str, int, bad) => {
      const password = config.password;
      str(config, "ssid", /^/, "1-32 chars", 0, 0, 32);
      // "" is an open network; WEP keys are 5/13 chars, WPA 8-63, a raw PSK 64 hex digits:
      // the ESP32's station config holds up to 64, and the access point judges the rest
      if (typeof password != "string" || password.length > 64) bad("password", "string of 0-64 chars");
      int(config, "keepAlive", 30, 1200, "integer 30-1200");
      if (config.telnet != null && typeof config.telnet != "boolean") bad("telnet", "true or false");
      // which device log entries reach the platform's log service (default WARN)
      if (config.logLevel != null && "DEBUG,INFO,WARN,ERROR".split(",").indexOf(config.logLevel) < 0)
        bad("logLevel", "one of DEBUG,INFO,WARN,ERROR"); // lib/logs.ts's levels
    });
  };

  // stored + patch -> new validated config (stored is not modified). Naming one field of a
  // group requires the whole group; a new identity or endpoint replaces the old one whole;
  // null/undefined removes an optional field.
  const mergeConfig = (stored: any, patch: any): any => {
    const all = fieldNames(1, patch),
      wifiGroup = all.slice(0, 2),
      nameGroup = all.slice(2, 4),
      identityFields = all.slice(4, 9),
      endpointFields = all.slice(9, 12),
      merged = Object.assign({}, stored),
      endpoints = endpointFields.filter((field) => patch[field] != null);
    [
      [wifiGroup, wifiGroup],
      [all.slice(2, 9), nameGroup],
    ].forEach((groups) =>
      groups[0].forEach((field) => {
        if (field in patch)
          groups[1].forEach((other) => {
            if (!(other in patch)) throw Error(other + ": required with " + field);
          });
      }),
    );
    if (nameGroup[0] in patch)
      identityFields.forEach((field) => {
        delete merged[field];
      });
    if (endpoints.length > 1) throw Error(endpoints.join("+") + ": only one of " + endpointFields.join(", "));
    if (endpoints.length)
      endpointFields.forEach((field) => {
        delete merged[field];
      });
    for (const field in patch) {
      if (patch[field] == null) delete merged[field];
      else merged[field] = patch[field];
    }
    validateConfig(merged);
    return merged;
  };

  // A copy in fieldNames() order with the secrets, the token and the Wi-Fi password masked:
  // at most the last 2 chars of a secret of 16+ chars, none of a shorter one (never a useful
  // part of a short secret, and never its length).
  const maskConfig = (config: any): any => {
    const masked: any = {},
      secrets = "password,deviceSecret,productSecret,deviceToken".split(",");
    fieldNames().forEach((field) => {
      const value = config[field];
      if (value != null)
        masked[field] =
          secrets.indexOf(field) < 0 ? value : value && "****" + (value.length < 16 ? "" : value.slice(-2));
    });
    return masked;
  };
  return {
    _checkDevice: checkDevice,
    _fieldNames: fieldNames,
    _validate: validateConfig,
    _merge: mergeConfig,
    _mask: maskConfig,
  };
}

// The host's view, one function at a time (not in the bundle: the firmware calls configKit()).
export const checkDevice = (device: Device, more?: (str: Str, int: Int, bad: Bad) => void): void =>
  configKit()._checkDevice(device, more);
export const fieldNames = (check?: any, config?: any): string[] => configKit()._fieldNames(check, config);
export const validateConfig = (config: any): void => configKit()._validate(config);
export const mergeConfig = (stored: any, patch: any): any => configKit()._merge(stored, patch);
export const maskConfig = (config: any): any => configKit()._mask(config);
