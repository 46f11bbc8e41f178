// The `iot` object the firmware puts on the board, for apps written in TypeScript
// (examples/*/app.ts; `npm run build:app -- file.ts`). docs/API.md says the same in prose.
// Also declares the ESP32 board globals an app uses that @types/espruino 1.95 lacks.

/** A message id: the decimal `id` of the Alink request, "1".."4294967295". */
type IotMessageId = string;

/** Property or event values: identifiers of the thing model → values (numbers, strings, booleans, objects, arrays). */
interface IotParams {
  [identifier: string]: any;
}

/** The platform's reply to a post or event (the whole `…/post_reply` message). */
interface IotReplyMessage {
  id: string;
  /** 200 = accepted; otherwise the platform's error code (e.g. 460 request parameter error, 6xxx thing model errors) */
  code: number;
  data: any;
  /** "success" or the platform's error text */
  message?: string;
  method?: string;
  version?: string;
}

/** `iot.status()`: a snapshot; every call makes a new object. */
interface IotStatus {
  /**
   * "unconfigured" no config stored · "wifi" joining the access point · "connecting" TCP/MQTT login in
   * progress · "registering" waiting for the dynamic registration's answer (productSecret) · "online" logged in ·
   * "backoff" waiting before the next attempt (see lastError) · "stopped" after iot.stop()
   */
  state: "unconfigured" | "wifi" | "connecting" | "registering" | "online" | "backoff" | "stopped";
  /** "off" never started · "connecting" · "up" · "down" lost or failed (retried with backoff) */
  wifi: "off" | "connecting" | "up" | "down";
  /** successful logins (CONNACK 0) since boot */
  connects: number;
  /** links lost or refused since boot (each is followed by a backoff) */
  reconnects: number;
  /** why the last link ended or failed, e.g. "connack 4: bad username or password, check deviceSecret"; "" if none */
  lastError: string;
  /** whole seconds since the firmware started (fixed: it used to advance only every watchdogSeconds/3 s, reading 0 for the first 13 s) */
  uptime: number;
  /** QoS 1 messages (posts, events) waiting for the platform's PUBACK, online or not */
  queue: number;
  /** messages dropped because the queue was full (the oldest goes first) since boot */
  dropped: number;
  /** the interpreter's free memory in JsVar blocks (process.memory().free; 14 bytes each on an ESP32) */
  free: number;
}

/**
 * The stored device config. `iot.setup(patch)` merges a patch into it: fields of one group are
 * given together (Wi-Fi: ssid + password; device: productKey + deviceName + one identity);
 * `null` removes an optional field; unknown fields are refused.
 */
interface IotConfig {
  // Wi-Fi group
  /** 1-32 chars */
  ssid?: string;
  /** Wi-Fi password, 0-64 chars ("" for an open network) */
  password?: string;
  // device group: productKey + deviceName + exactly one identity (deviceSecret | productSecret | clientId + deviceToken)
  /** 1-31 letters and digits */
  productKey?: string;
  /** 4-32 chars of letters, digits, -_@.: */
  deviceName?: string;
  /** identity mode "one device, one secret": 1-128 visible ASCII chars */
  deviceSecret?: string;
  /**
   * dynamic registration: the product's secret; at its first login the device fetches its deviceSecret
   * (or, preregistered false, clientId + deviceToken) once over TLS and stores it in place of productSecret
   */
  productSecret?: string;
  /** with productSecret: the device is pre-registered in the console (true, the default) or registered on first login without pre-registration (false) */
  preregistered?: boolean;
  /** preregistration-free mode: the clientId the platform issued with deviceToken (1-64 visible ASCII chars but | , =) */
  clientId?: string;
  /** preregistration-free mode: the token (a secret, masked by show()) */
  deviceToken?: string;
  // endpoint: one of region (default "cn-shanghai"), instanceId, host; setting one removes the others
  region?: string;
  instanceId?: string;
  host?: string;
  /** 1-65535, default 1883 */
  port?: number;
  /** TLS to the platform; default true (new instances refuse plain TCP) */
  tls?: boolean;
  signMethod?: "hmacmd5" | "hmacsha1" | "hmacsha256";
  /** MQTT keep-alive in seconds, 30..1200 (default board.json keepAlive) */
  keepAlive?: number;
  /** Espruino's Telnet console on port 23 (no password): off unless true */
  telnet?: boolean;
  /** the lowest level the device log keeps and sends to the platform (iot.log()'s entries and the firmware's own); default "WARN" */
  logLevel?: IotLogLevel;
}

/** `iot.setup()`'s patch: config fields, `null` removing an optional one. */
type IotConfigPatch = { [field in keyof IotConfig]?: IotConfig[field] | null };

/** levels of iot.log(), lowest first */
type IotLogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";

interface Iot {
  /** firmware version (package.json) */
  readonly version: string;
  /**
   * Merges `patch` into the stored config, validates it, saves it power-safely to Storage and
   * (re)starts the link. Throws an Error naming the field and the rule (never the value).
   */
  setup(patch: IotConfigPatch): void;
  /** Prints the stored config on the console; secrets masked (at most their last 2 characters, none for secrets under 16). */
  show(): void;
  status(): IotStatus;
  /** (Re)starts the link with the stored config (a new connection; message ids continue). Throws when unconfigured. */
  start(): void;
  /** Ends the link (DISCONNECT when online) until start() or a reboot. */
  stop(): void;
  /** Stops and erases the stored config (Telnet back off). */
  clear(): void;
  /**
   * Posts properties (thing.event.property.post) at QoS 1. Returns the message id, which the
   * "reply" event carries. Offline, the message waits in the queue (board.json queueLength, 16)
   * and goes out in order after the next login; when the queue is full the oldest is dropped
   * (status().dropped counts). Throws when unconfigured, when params is not an object, or
   * when the packet would exceed board.json maxPacket.
   */
  post(params: IotParams): IotMessageId;
  /** Posts event `identifier` (thing.event.<identifier>.post), as post(). identifier: letters, digits, _ (≤ 50). */
  event(identifier: string, params: IotParams): IotMessageId;
  /** Prints every command on the console. */
  help(): void;
  /**
   * Adds an entry (module "app") to the device log for the platform's log service (thing.log.post);
   * dropped if level is below the config's logLevel (default WARN); another level throws
   * "log level: one of DEBUG,INFO,WARN,ERROR". text is cut to 256 chars. Entries wait in a bounded
   * buffer (board.json logBuffer, 8; the oldest dropped) and are posted once online with the clock
   * synced by NTP, while the platform's log switch for the device is on.
   */
  log(level: IotLogLevel, text: string): void;

  /** Logged in (after every (re)connect). */
  on(event: "online", listener: () => void): void;
  /** The link went down (lastError says why); the firmware reconnects by itself. */
  on(event: "offline", listener: () => void): void;
  /**
   * The cloud set properties. Return a number to choose the reply code (200 accepts; e.g. 460
   * refuses), anything else or nothing replies 200; a throw replies 500. Accepted params are
   * posted back (the thing model expects the new values reported). With several listeners
   * the first number returned wins.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a listener may return nothing (then the reply is 200)
  on(event: "set", listener: (params: IotParams) => number | void): void;
  /** The platform answered one of the last 32 posts/events: its id, its code (200 = accepted), the whole reply. */
  on(event: "reply", listener: (id: IotMessageId, code: number, reply: IotReplyMessage) => void): void;
  /**
   * The cloud called service `identifier` (thing.service.<identifier>), asynchronously or synchronously
   * (RRPC over /ext/rrpc/…): both come here. The first value a listener returns that is not undefined
   * decides the reply: the output params (an object) for a 200 reply, or a number for the reply code;
   * anything else or nothing replies 200 with empty data; a throw replies 500. No "service" listener:
   * every call is answered 404. params not an object: 460, no listener called.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: as for "set"
  on(event: "service", listener: (identifier: string, params: IotParams) => IotParams | number | void): void;
  /**
   * A classic RRPC request (/sys/{productKey}/{deviceName}/rrpc/request/{messageId}); payload is its
   * text, not parsed. The first value a listener returns that is not undefined is the response, on
   * …/rrpc/response/{messageId} at QoS 0: a string as it is, anything else as its JSON; null or
   * undefined (or a throw) sends no response. The caller waits at most 8 s.
   */
  on(event: "rrpc", listener: (payload: string) => any): void;
}

declare const iot: Iot;

// ESP32 board globals @types/espruino 1.95 leaves out (it types other boards' pins).
declare const D0: Pin, D1: Pin, D2: Pin, D3: Pin, D4: Pin, D5: Pin, D6: Pin, D7: Pin, D8: Pin, D9: Pin;
declare const D10: Pin, D11: Pin, D12: Pin, D13: Pin, D14: Pin, D15: Pin, D16: Pin, D17: Pin, D18: Pin, D19: Pin;
declare const D20: Pin, D21: Pin, D22: Pin, D23: Pin, D24: Pin, D25: Pin, D26: Pin, D27: Pin, D28: Pin, D29: Pin;
declare const D30: Pin, D31: Pin, D32: Pin, D33: Pin, D34: Pin, D35: Pin, D36: Pin, D37: Pin, D38: Pin, D39: Pin;
// No LED1/BTN1: the ESP32 build of Espruino declares none (use your board's pin, often D2).
declare function pinMode(
  pin: Pin,
  mode: "input" | "input_pullup" | "input_pulldown" | "output" | "opendrain" | "analog" | "auto",
): void;
declare const console: { log(...args: any[]): void };
declare function setTimeout(fn: () => void, ms: number): any;
declare function setInterval(fn: () => void, ms: number): any;
declare function require(name: string): any;
