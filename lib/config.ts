// Console config: field rules, group merge, masking. Messages name fields, never values.
import { checkDevice, bad, str, int } from "./aliyun";
import { LOG_LEVELS } from "./logs";

// Fields come in groups that are set together so identities never mix.
const WIFI_GROUP = ["ssid", "password"];
const DEVICE_GROUP = ["productKey", "deviceName", "deviceSecret"];
// Every known field, in the fixed order iot.show() prints them.
export const FIELDS = WIFI_GROUP.concat(DEVICE_GROUP, ["region", "instanceId", "host", "port", "signMethod", "keepAlive", "telnet", "logLevel"]);

// config must be an object without unknown field names (all of them are named).
const checkKnown = (config: any) => {
  if (!config || typeof config != "object") bad("config", "not an object");
  const unknown = Object.keys(config).filter(field => FIELDS.indexOf(field) < 0);
  if (unknown.length) bad("unknown field", unknown.join(", "));
};

// Throws an Error naming the field and the rule when config is not a complete, valid config.
export const validateConfig = (config: any): void => {
  checkKnown(config);
  const password = config.password;
  str(config, "ssid", /^/, "1-32 chars", 0, 0, 32);
  // "" is an open network; WEP keys are 5/13 chars, WPA 8-63, a raw PSK 64 hex digits:
  // the ESP32's station config holds up to 64, and the access point judges the rest
  if (typeof password != "string" || password.length > 64) bad("password", "string of 0-64 chars");
  int(config, "keepAlive", 30, 1200, "integer 30-1200");
  if (config.telnet != null && typeof config.telnet != "boolean") bad("telnet", "true or false");
  // which device log entries reach the platform's log service (default WARN)
  if (config.logLevel != null && LOG_LEVELS.indexOf(config.logLevel) < 0) bad("logLevel", "one of " + LOG_LEVELS.join());
  // the device group's fields (required ones included)
  checkDevice(config);
};

// stored + patch -> new validated config (stored is not modified). Naming one field of a
// group requires the whole group; null/undefined removes an optional field.
export const mergeConfig = (stored: any, patch: any): any => {
  checkKnown(patch);
  const merged = Object.assign({}, stored);
  [WIFI_GROUP, DEVICE_GROUP].forEach(group => group.forEach(field => {
    if (field in patch) group.forEach(other => { if (!(other in patch)) bad(other, "required with " + field) });
  }));
  for (const field in patch) {
    if (patch[field] == null) delete merged[field]; else merged[field] = patch[field];
  }
  validateConfig(merged);
  return merged;
};

// At most the last 2 chars of a secret of 16+ chars, none of a shorter one: never a
// useful part of a short secret, and never its length.
const mask = (secret: string): string => secret && "****" + (secret.length < 16 ? "" : secret.slice(-2));

// A copy in FIELDS order with deviceSecret and the Wi-Fi password masked.
export const maskConfig = (config: any): any => {
  const masked: any = {};
  FIELDS.forEach(field => {
    if (config[field] != null) masked[field] = field == "password" || field == "deviceSecret" ? mask(config[field]) : config[field];
  });
  return masked;
};
