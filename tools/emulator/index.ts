// Local emulator of the Alibaba Cloud IoT Platform MQTT endpoint (protocol: docs/ALIYUN.md).
// A real MQTT broker (aedes) on 127.0.0.1 plus the platform's rules. It is the oracle of our
// end-to-end tests, so it is written independently of lib/: Node crypto + aedes only.
//
// Where to look:
//   rules.ts      clientId syntax, password HMAC, which topics a device owns (pure functions)
//   registry.ts   the devices allowed to log in (inline, or .emulator/devices.json)
//   connection.ts TCP links, the silence limit, fault injection (mute, splitWrites), kicks
//   broker.ts     aedes hooks: login verdicts, publish/subscribe authorisation
//   platform.ts   the cloud's answers: post_reply, NTP, property set / set_reply
//   services.ts   service calls (async, sync RRPC), classic RRPC, device log posts (checked strictly), log switch
//   ota.ts        OTA jobs: upgrade push, MQTT download (with faults), progress and inform
//   lifecycle.ts  startEmulator(): assembly, start/stop/close
//   cli.ts        `npm run emulator -- --port 1883`: the emulator alone, for your own clients
//
// Events (each with productKey/deviceName where known): connect (with tls, authType), connack,
// register, subscribe, publish, post, set_reply, ntp, pingreq, kick, disconnect;
// services.ts: service_reply, rrpc_reply, log, log_config_get; ota.ts: ota_push, ota_request,
// ota_progress, ota_inform.
//
// Transport: one port serves TLS (a self-signed RSA certificate, certificate.ts) and plain TCP,
// told apart by the first byte, as the platform's 1883; securemode 2 needs TLS, 3 needs TCP.
//
// Choices where the platform docs are silent (documented here so tests can rely on them):
// - keepalive outside 30..1200 s -> CONNACK 2; Will flag set -> CONNACK 5; protocol level != 4 -> CONNACK 1.
// - clean session 0 is accepted (aedes keeps the session while the emulator runs).
// - the retain flag of device publishes is cleared (the platform has no retained messages).
// - subscriptions asking QoS 2 are granted QoS 1; device PUBLISH with QoS 2 closes the link.
// - 'kick' is emitted when the emulator closes a device on purpose (twin login, forbidden topic,
//   QoS 2); every end of an authenticated link then emits 'disconnect' with the reason.
// - the silence limit (1.5 x keepalive / timeScale) is ours alone: aedes' own keepalive timer is
//   disabled by zeroing packet.keepalive in preConnect, so timeScale < 1 works too.
// - 'connect' is emitted when a CONNECT arrives (before it is judged); 'connack' tells the verdict.
// - besides the documented topics, /shadow/{get,update}/pk/dn and /ext/session/pk/dn/... are the
//   device's own (the official Node SDK subscribes them); unknown clientId params (lan=, _v=) are ignored.
// - a device never receives its own publishes on /sys/ and /ext/rrpc/ (the platform routes them to the cloud): with
//   /ext/rrpc/+ and thing/service/+ subscribed, aedes would otherwise echo the device's replies.
// - replies go out at QoS 1 and reach the device at min(1, granted QoS); setProperty's qos option
//   (default 1) likewise. A set towards an offline device rejects at once.
export { startEmulator, type Emulator, type EmulatorOptions } from "./lifecycle";
export { parseClientId, expectedPassword, ownTopic, type ClientIdInfo } from "./rules";
export type { Device } from "./registry";
export type { Fault, ClientInfo } from "./connection";
export type { SetReply, SetPropertyOptions } from "./platform";
export { checkLogPost, type ServiceReply, type CallServiceOptions, type LogPost } from "./services";
