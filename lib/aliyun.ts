// Alibaba Cloud IoT device credentials (MQTT CONNECT fields). Their validation, checkDevice, is
// in lib/config.ts's configKit() with the other field rules (made per call, not resident).
import { type Hash, cryptoKit } from "./crypto";
import { configKit } from "./config";

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
  configKit()._checkDevice(device);
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
