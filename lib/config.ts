// Console config: field rules, group merge, masking. Messages name fields, never values.
import { checkDevice, bad, str, int } from "./aliyun";

// Fields come in groups that are set together so identities never mix.
const W = ["ssid", "password"];
const D = ["productKey", "deviceName", "deviceSecret"];
// Every known field, in the fixed order iot.show() prints them.
export const FIELDS = W.concat(D, ["region", "instanceId", "host", "port", "signMethod", "keepAlive", "telnet"]);

// c must be an object without unknown field names (all of them are named).
const known = (c: any) => {
  if (!c || typeof c != "object") bad("config", "not an object");
  const u = Object.keys(c).filter(k => FIELDS.indexOf(k) < 0);
  if (u.length) bad("unknown field", u.join(", "));
};

// Throws an Error naming the field and the rule when c is not a complete, valid config.
export const validateConfig = (c: any): void => {
  known(c);
  const p = c.password;
  str(c, "ssid", /^/, "1-32 chars", 0, 0, 32);
  // "" is an open network; WEP keys are 5/13 chars, WPA 8-63, a raw PSK 64 hex digits:
  // the ESP32's station config holds up to 64, and the access point judges the rest
  if (typeof p != "string" || p.length > 64) bad("password", "string of 0-64 chars");
  int(c, "keepAlive", 30, 1200, "integer 30-1200");
  if (c.telnet != null && typeof c.telnet != "boolean") bad("telnet", "true or false");
  // the device group's fields (required ones included)
  checkDevice(c);
};

// stored + patch -> new validated config (stored is not modified). Naming one field of a
// group requires the whole group; null/undefined removes an optional field.
export const mergeConfig = (stored: any, patch: any): any => {
  known(patch);
  const c = Object.assign({}, stored);
  [W, D].forEach(g => g.forEach(k => {
    if (k in patch) g.forEach(m => { if (!(m in patch)) bad(m, "required with " + k) });
  }));
  for (const k in patch) {
    if (patch[k] == null) delete c[k]; else c[k] = patch[k];
  }
  validateConfig(c);
  return c;
};

// Last 4 chars at most, fewer for short secrets (a quarter of the length).
const mask = (s: string): string => s && "****" + s.slice(s.length - (s.length >> 2)).slice(-4);

// A copy in FIELDS order with deviceSecret and the Wi-Fi password masked.
export const maskConfig = (c: any): any => {
  const o: any = {};
  FIELDS.forEach(k => {
    if (c[k] != null) o[k] = k == "password" || k == "deviceSecret" ? mask(c[k]) : c[k];
  });
  return o;
};
