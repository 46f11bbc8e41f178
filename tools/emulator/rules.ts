// The platform's login and topic rules, as pure functions: how a clientId is read, what the
// password must be, which topics belong to a device. The broker hooks (broker.ts) apply them;
// the protocol itself is described in docs/ALIYUN.md. Written from the platform docs with Node
// crypto only, never from lib/, because the emulator is the oracle our firmware is tested against.
import { createHmac } from "node:crypto";

/** Node hash names of the platform's signmethod values. */
const SIGN: Record<string, string> = { hmacmd5: "md5", hmacsha1: "sha1", hmacsha256: "sha256" };

export interface ClientIdInfo {
  id: string;
  /** '3' (TCP), '2' (TLS), '-2' (preregistration-free login, authType connwl) */
  secureMode: string;
  signMethod: string;
  timestamp?: string;
  /** register | regnwl (dynamic registration, §6) | connwl (preregistration-free login) */
  authType?: string;
  /** the registration's signed random */
  random?: string;
}

/** Parse `${id}|k=v,k=v|`. Returns null when malformed (-> CONNACK 2). */
export function parseClientId(clientId: string): ClientIdInfo | null {
  const m = /^([^|]{1,64})\|([^|]*)\|$/.exec(clientId || "");
  if (!m) return null;
  const p: Record<string, string> = {};
  for (const kv of m[2].split(",")) {
    const i = kv.indexOf("=");
    if (i < 1) return null;
    const k = kv.slice(0, i).trim();
    if (k in p) return null;
    p[k] = kv.slice(i + 1).trim();
  }
  const signMethod = p.signmethod === undefined ? "hmacmd5" : p.signmethod;
  const authType = p.authType;
  // preregistration-free login: `${clientId}|securemode=-2,authType=connwl|`, password = deviceToken
  if (authType === "connwl")
    return p.securemode === "-2" ? { id: m[1], secureMode: "-2", signMethod: "", authType } : null;
  if (p.securemode !== "3" && p.securemode !== "2") return null;
  if (!SIGN[signMethod]) return null;
  if (p.timestamp !== undefined && !/^\d+$/.test(p.timestamp)) return null;
  if (authType === undefined) return { id: m[1], secureMode: p.securemode, signMethod, timestamp: p.timestamp };
  // registration: TLS only, signed over a random
  if ((authType !== "register" && authType !== "regnwl") || p.securemode !== "2" || !p.random) return null;
  return { id: m[1], secureMode: p.securemode, signMethod, authType, random: p.random };
}

/** A registration's password: hex HMAC(productSecret, `deviceName${dn}productKey${pk}random${r}`). */
export function registrationPassword(
  method: string,
  productSecret: string,
  c: { deviceName: string; productKey: string; random: string },
): string {
  return createHmac(SIGN[method], productSecret)
    .update("deviceName" + c.deviceName + "productKey" + c.productKey + "random" + c.random)
    .digest("hex");
}

/** The platform's password: hex HMAC(deviceSecret, sorted params); method hmacmd5 | hmacsha1 | hmacsha256. */
export function expectedPassword(
  method: string,
  secret: string,
  c: { id: string; deviceName: string; productKey: string; timestamp?: string },
): string {
  const content =
    "clientId" +
    c.id +
    "deviceName" +
    c.deviceName +
    "productKey" +
    c.productKey +
    (c.timestamp !== undefined ? "timestamp" + c.timestamp : "");
  return createHmac(SIGN[method], secret).update(content).digest("hex");
}

/**
 * Does `topic` (a filter when `sub`) lie inside the device's own topic space?
 * `sub`: wildcards allowed (only after the device's own prefix).
 */
export function ownTopic(topic: string, pk: string, dn: string, sub: boolean): boolean {
  // /ota/device/{inform,upgrade,progress,request}/pk/dn and /shadow/{get,update}/pk/dn (official SDK)
  const ota = /^\/(?:ota\/device|shadow)\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(topic);
  if (ota) return ota[2] === pk && ota[3] === dn && !/[+#]/.test(ota[1]);
  // synchronous service calls: /ext/rrpc/{rrpcId}/sys/pk/dn/... (rrpcId '+' in a subscription)
  const rrpc = /^\/ext\/rrpc\/([^/]+)(\/sys\/.*)$/.exec(topic);
  if (rrpc) return (sub ? rrpc[1] === "+" : !/[+#]/.test(rrpc[1])) && ownTopic(rrpc[2], pk, dn, sub);
  for (const pre of ["/sys/", "/ext/ntp/", "/ext/session/", "/"].map((p) => p + pk + "/" + dn + "/")) {
    if (topic.startsWith(pre) && topic.length > pre.length) {
      const rest = topic.slice(pre.length);
      if (!sub) return !/[+#]/.test(rest);
      // MQTT wildcard syntax: '+' a whole level, '#' a whole last level
      return rest.split("/").every((l, i, a) => l === "+" || (l === "#" && i === a.length - 1) || !/[+#]/.test(l));
    }
  }
  return false;
}
