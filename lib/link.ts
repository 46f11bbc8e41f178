// The device link: Wi-Fi → TCP → MQTT session, keep-alive, QoS 1 queue, reconnect
// backoff and watchdog feeding. Pure state machine: clock, sockets and Wi-Fi are injected.
import { backoffDelay } from "./backoff";
import {
  readPackets,
  decodePublish,
  decodeAck,
  type MqttReader,
  CONNACK,
  PUBLISH,
  SUBACK,
  encodeConnect,
  encodePublish,
  encodePuback,
  encodeSubscribe,
  type Subscription,
} from "./mqtt";

export interface Timers {
  // setTimeout(fn, ms, ...args) as Espruino and Node have it: fn(...args) after ms
  set(fn: (...args: any[]) => void, ms: number, ...args: any[]): any;
  clear(handle: any): void;
}
export interface LinkSocket {
  write(bytes: string): void;
  end(): void;
}
export interface LinkEnv extends Timers {
  // `_` names: firmware-internal (device → link), mangled to one or two letters
  _random(): number;
  // tls: TLS, else plain TCP. Throws synchronously on DNS/connect failure (or too little
  // memory for TLS). onEvent gets every event of the socket, later (asynchronously), with
  // `this` = the returned socket, as Espruino calls event handlers, and the event's argument
  // as Espruino gives it: the socket itself (connected), a string (data), a boolean (closed;
  // had an error) or an object (an error, {code, message}). The link ignores an old socket's.
  _connect(host: string, port: number, tls: boolean, onEvent: (this: LinkSocket, arg: any) => void): LinkSocket;
  _wifiConnect(ssid: string, password: string, callback: (err: string | null) => void): void;
  _kick(): void; // watchdog
  _memory(): { free: number }; // process.memory(): free JsVars
  _uptime(): number; // seconds since the firmware started, immune to clock steps (NTP)
  _log(line: string): void; // never given secrets
}
export interface LinkSettings {
  keepAlive: number;
  queueLength: number;
  maxPacket: number;
  watchdogSeconds: number;
  offlineResetMinutes: number;
  connackTimeoutSeconds: number;
  pingTimeoutSeconds: number;
  wifiTimeoutSeconds: number;
  stableSeconds: number;
}
// A session: what one connect attempt needs, made for it by the function given to start() and
// dropped once online (its signed password and clientId are long strings: RAM).
// password is the MQTT password (as credentials() returns it); _wifiPassword the Wi-Fi one.
// The `_` fields are the firmware's own (console → link): `_` names are mangled to one or two letters.
// _secret: the config field a refused login (CONNACK 4/5) points the user to.
// _register: set for a registration session (docs/ALIYUN.md §6): after CONNACK the link waits for
// the reply on /ext/register or /ext/regnwl (no subscribe, never online) and hands its payload
// to _register from a timer, never from the socket's data callback (it starts a new TLS login).
export interface Session {
  _ssid: string;
  _wifiPassword: string;
  host: string;
  port: number;
  clientId: string;
  username: string;
  password: string;
  _keepAlive: number;
  _topics: () => Subscription[]; // made at the CONNACK, not kept: a list of long strings costs RAM
  _tls: boolean;
  _secret: string;
  _register?: (payload: string) => void;
}
export interface Status {
  state: string;
  wifi: string;
  connects: number;
  reconnects: number;
  lastError: string;
  uptime: number;
  queue: number;
  dropped: number;
  free: number;
}
// A queued QoS 1 PUBLISH: its packet id and its encoded bytes. (Whether it was sent before, for
// DUP, is told by its place: the queue's newest `unsent` messages were queued while offline.)
interface QueuedPublish {
  _id: number;
  _bytes: string;
}
export interface Link {
  onMessage: ((topic: string, payload: string) => void) | null;
  onOnline: (() => void) | null;
  onOffline: (() => void) | null;
  start(makeSession: () => Session): void;
  stop(): void;
  wifiLost(): void;
  publish(topic: string, payload: string, qos: 0 | 1): void;
  status(): Status;
  error(message: string): void;
  _id: number; // last packet id (white-box tests set it)
}

// A thrown value's text is written where it is caught, `(thrown && thrown.message) || thrown`
// (an Error's message, or what was thrown): a helper function would be resident.
const PHASE = 0,
  KEEPALIVE = 1,
  PING = 2,
  WATCHDOG = 3,
  BY_TICK = 1;
// The link's state and Wi-Fi state, numbers (status() names them): a number is held in its
// variable's JsVar, a string takes one more (docs/ESPRUINO.md §7). The names, in this order:
const STATES = "unconfigured,wifi,connecting,registering,online,backoff,stopped,registered",
  UNCONFIGURED = 0,
  WIFI = 1,
  CONNECTING = 2,
  REGISTERING = 3,
  ONLINE = 4,
  BACKOFF = 5,
  STOPPED = 6,
  REGISTERED = 7,
  WIFI_STATES = "off,connecting,up,down",
  WIFI_OFF = 0,
  WIFI_JOINING = 1,
  WIFI_UP = 2,
  WIFI_DOWN = 3;
// Timer slots: indexes into the link's deadline table, each holding at most one deadline
// (numeric constants: the build inlines them, they cost no RAM).
// PHASE: the deadline or wait of the current state: Wi-Fi connect timeout, then
//   CONNACK timeout; the backoff wait; online, the proven mark (below), then stableSeconds after
//   CONNACK the stable mark (backoff schedules and twin count reset).
// KEEPALIVE: online, the keep-alive's cyclic tick, every keepAlive/6 (lwIP's MQTT client keeps
//   alive the same way). Each tick counts one more period of silence in each direction; a send
//   sets sendQuiet to 0, a chunk received heardQuiet: an assignment, where a deadline moved
//   later at every send and every chunk cost a read of the clock (3 % of a post's CPU). At the
//   third quiet period in either direction, a PINGREQ: after between keepAlive/3 and keepAlive/2
//   of silence (a link silent since its CONNACK pings at keepAlive/2 exactly), well inside
//   the keepAlive within which MQTT wants a packet from the client (3.1.1 §3.1.2.10). Its
//   action is the marker BY_TICK, done by tick() itself.
// PING: once a PINGREQ is out, its deadline (pingTimeoutSeconds): nothing heard since it was
//   sent, "ping timeout"; anything heard, the next tick ends it. One PINGREQ outstanding at
//   most. A dead link is dropped within keepAlive/2 + pingTimeoutSeconds of the last byte heard.
// WATCHDOG: the watchdog feeder, every watchdogSeconds/3, never cleared. Its action is the
//   marker BY_TICK, done by tick() itself (a function of its own would be resident). It stops
//   feeding only when configured but offline for offlineResetMinutes (counted in ticks,
//   immune to clock steps).
// Proven: a session online 10 s without a drop has proved the broker keeps us: the network
// backoff starts again from 1 s. A time, not an answer to our packets: a PINGREQ waits for
// keepAlive/3 of silence at least, and a device that posts nothing waits for no PUBACK. A
// broker that accepts and drops at once (a refused publish, an overloaded server) drops us
// within this time, so its reconnects still back off.

// One link per device: its state is module-level and Link() (re)sets it. A function at the
// top level of the bundle keeps no scope, a closure made in a factory keeps its factory's: one
// JsVar each (docs/ESPRUINO.md §7). (The tests make a new Link for each case.)
let env: LinkEnv,
  // the settings, times in seconds (minutes for the offline reset) as board.json has them:
  // made ms where used. A variable costs one JsVar, a key of the settings object two or three
  // (the object is not kept); an integer up to 8191 is held in its variable's own JsVar on the
  // ESP32, a larger one (ms) or a fraction takes another (docs/ESPRUINO.md §7)
  watchdogSeconds: number,
  queueLength: number,
  maxPacket: number,
  connackSeconds: number,
  pingSeconds: number,
  wifiSeconds: number,
  stableSeconds: number,
  offlineResetMinutes: number,
  // per slot: when it is due (ms of uptime), and what to do then (none: the slot is free)
  deadlines: number[],
  actions: any[],
  // start()'s function that makes a session (null: stopped), and the current attempt's session
  // (null once online, and between attempts)
  makeSession: (() => Session) | null,
  session: Session | undefined,
  // the session's keepAlive (s): a sixth of it is the keep-alive's period
  keepAlive: number,
  // keep-alive periods since the last send, and since the last chunk received (set to 1 when a
  // PINGREQ goes: 0 again once anything is heard)
  sendQuiet: number,
  heardQuiet: number,
  state: number,
  wifiState: number,
  lastError: string,
  socket: LinkSocket | null,
  // the current socket's packet reader (a new one per socket: a cut packet never carries over)
  reader: MqttReader | null,
  queue: QueuedPublish[],
  // how many of the queue's newest messages were never sent (queued while not online): they go
  // out without DUP at the next CONNACK (may exceed the queue's length: then none was sent)
  unsent: number,
  connects: number,
  reconnects: number,
  dropped: number,
  offlineTicks: number,
  // attempts on the network schedule (1 s to 1 min) and on the login schedule (refused
  // credentials, twin login: 2 s to 15 min), for backoffDelay
  networkAttempts: number,
  loginAttempts: number,
  // bumped whenever a socket or Wi-Fi attempt is replaced: older callbacks see a stale value
  generation: number,
  // online sessions closed by the platform in a row, with no failed attempt between them
  // and none stable: a twin device kicking us (see dropLink)
  twinCloses: number,
  // online: the proven mark is past (the next PHASE timer is the stable mark); 0 or 1 (a number
  // costs one JsVar, a boolean two: docs/ESPRUINO.md §7)
  proven: number,
  // the one pending setTimeout of the link (null: none) and the deadline it is set for
  timer: any,
  timerAt: number;

// One pending setTimeout for every deadline of the link (lwIP's cyclic timer, but exact):
// it is set for the earliest one. Moving a deadline later is an assignment, not a
// clearTimeout and a setTimeout: the timer then fires early, finds nothing due and waits
// again. (RAM: one pending timer, not one per slot; Espruino reuses a fired timer's handle, so
// a stale one is never cleared.)
// fn: a function to run, the reason of a drop (a literal: no closure made per deadline;
// a closure made in connect() or send() would keep that call's scope while it waits), or BY_TICK
// (the marker of the slots tick() serves itself: the watchdog and the keep-alive).
// (Re)arms the deadline of slot, or just clears it (no fn).
// (`at` declared at the top of the function: a let or const inside a block makes Espruino
// create a scope object for that block at each run, docs/ESPRUINO.md §9)
const armTimer = (slot: number, fn?: (() => void) | string | number, ms?: number) => {
  let at: number;
  actions[slot] = fn;
  if (fn) {
    // ms of uptime as they come, fractions too (Math.round would cost a walk of the root scope's
    // names to find Math, twice per post: 1 % of its CPU; on the 64-bit build a fraction takes a
    // JsVar more than a whole number, 3 in all, on the ESP32's layout none)
    at = env._uptime() * 1000 + ms!;
    deadlines[slot] = at;
    if (timer == null || at < timerAt) {
      if (timer != null) env.clear(timer);
      timer = env.set(tick, ms!);
      timerAt = at;
    }
  }
};
// The timer fires: what is due runs, in slot order (a drop clears the other slots of the
// session), then the timer is set for the earliest deadline left.
const tick = () => {
  const now = env._uptime() * 1000;
  let slot: number,
    fn: any,
    next = -1;
  timer = null;
  for (slot = PHASE; slot <= WATCHDOG; slot++) {
    fn = actions[slot];
    // (a timer that fires a little early finds nothing due and waits the rest)
    if (fn && deadlines[slot] <= now) {
      actions[slot] = null;
      // a throw must not leave the link without its timer (the watchdog's feeding is one of
      // its deadlines)
      try {
        if (slot == WATCHDOG) {
          armTimer(WATCHDOG, BY_TICK, Math.round((watchdogSeconds * 1000) / 3));
          offlineTicks = makeSession && state != ONLINE ? offlineTicks + 1 : 0;
          // ticks of watchdogSeconds/3 offline, against the minutes
          if (offlineTicks * watchdogSeconds < offlineResetMinutes * 180) env._kick();
        } else if (slot == KEEPALIVE) {
          armTimer(KEEPALIVE, BY_TICK, (keepAlive * 1000) / 6);
          sendQuiet++;
          // an answered PINGREQ is over, its deadline need not pass: receive-silence counts
          // again from here (while one is out unanswered, heardQuiet stays as the ping set it)
          if (!heardQuiet) actions[PING] = null;
          if (!actions[PING] && (++heardQuiet > 2 || sendQuiet > 2)) {
            heardQuiet = 1;
            send(); // PINGREQ
            if (socket) armTimer(PING, "ping timeout", pingSeconds * 1000);
          }
        } else if (slot == PING) {
          if (heardQuiet) dropLink(fn);
        } else if (typeof fn == "string") dropLink(fn);
        else fn();
      } catch (thrown: any) {
        error("timer: " + ((thrown && thrown.message) || thrown));
      }
    }
  }
  for (slot = PHASE; slot <= WATCHDOG; slot++)
    if (actions[slot] && (next < 0 || deadlines[slot] < next)) next = deadlines[slot];
  if (next >= 0 && (timer == null || next < timerAt)) {
    if (timer != null) env.clear(timer);
    timer = env.set(tick, Math.max(0, next - now));
    timerAt = next;
  }
};
const error = (message: string) => {
  lastError = message;
  env._log("link: " + message);
};
// user callbacks must not throw into the socket callback
const callUser = (fn: Function | null, topic?: string, payload?: string) => {
  try {
    if (fn) fn(topic, payload);
  } catch (thrown: any) {
    error("callback: " + ((thrown && thrown.message) || thrown));
  }
};
// The next step of a (re)connect: Wi-Fi unless it is up, then the MQTT session; arrived: the
// current socket (its connect event), then the CONNECT; or a packet, the broker's CONNACK (the
// session online, or a registration waiting for its reply) or, registering, the reply. One
// function for these steps: each function is resident, and their handling, here, is not
// lexed for every packet (Espruino lexes all of a function's text at each call).
const connect = (arrived?: any) => {
  // the attempt's session: none yet at a new attempt (made below), set at every other step
  let current = session as Session;
  // the socket connected (TCP, or the TLS handshake done): CONNECT. Here, not in the socket
  // handler, whose text is lexed at every chunk received
  // (INLINE: the encoder is used only here; as a function of its own it would be resident.
  // This parameter must not be named `packet`: terser's forced inlining let it capture the
  // encoder's call of mqtt.ts's packet(), the bundle then called the socket: measured)
  if (arrived && arrived == socket)
    return send(
      /*@__INLINE__*/ encodeConnect(current.clientId, current.username, current.password, current._keepAlive),
    );
  if (arrived && state == REGISTERING) {
    // the platform closes after its reply: the session ends here, the login starts from a timer
    if (arrived.type == PUBLISH && /^\/ext\/reg/.test(arrived.topic)) {
      endSession(REGISTERED);
      armTimer(
        PHASE,
        () => {
          try {
            current._register!(arrived.payload);
          } catch (thrown: any) {
            dropLink("register: " + ((thrown && thrown.message) || thrown), true);
          }
        },
        0,
      );
    }
    return;
  }
  if (arrived) {
    const returnCode = arrived.rc;
    if (returnCode) {
      const badCredentials = returnCode == 4 || returnCode == 5;
      // return codes 1..5 (MQTT 3.1.1 §3.2.2.3): a literal in the code (flash), not a resident array
      return dropLink(
        "connack " +
          returnCode +
          ": " +
          (",unacceptable protocol version,identifier rejected,server unavailable,bad username or password,not authorized".split(
            ",",
          )[returnCode] || "refused") +
          (badCredentials ? ", check " + current._secret : ""),
        badCredentials,
      );
    }
    if (current._register) {
      // no reply within the CONNACK timeout: a failed attempt, on the long schedule
      state = REGISTERING;
      return armTimer(PHASE, () => dropLink("register: no reply", true), connackSeconds * 1000);
    }
    state = ONLINE;
    connects++;
    proven = 0;
    session = undefined; // not kept online (undefined: no JsVar for the value, null takes one)
    armTimer(PHASE, connect, 10000); // the proven mark (below)
    sendQuiet = heardQuiet = 0;
    armTimer(KEEPALIVE, BY_TICK, (keepAlive * 1000) / 6);
    // made here and not kept: a list of long strings
    const topics: Subscription[] = current._topics();
    // its packet id: the next one, as publish() gives it (an id come round to the oldest queued
    // message drops that message, counted)
    if (topics.length) {
      link._id = (link._id % 65535) + 1;
      if (queue[0] && queue[0]._id == link._id) {
        queue.shift();
        dropped++;
      }
      send(encodeSubscribe(link._id, topics));
    }
    // a resend sets DUP: all but the newest `unsent`, which go out for the first time
    const resends = queue.length - unsent;
    queue.forEach((item, index) =>
      send(index < resends ? String.fromCharCode(item._bytes.charCodeAt(0) | 8) + item._bytes.slice(1) : item._bytes),
    );
    unsent = 0;
    if (state == ONLINE) callUser(link.onOnline);
    return;
  }
  // Online, the PHASE timer: 10 s after CONNACK the proven mark (the network schedule starts
  // again), stableSeconds after it the stable mark (both schedules and the twin count).
  if (state == ONLINE) {
    networkAttempts = 0;
    if (proven) loginAttempts = twinCloses = 0;
    else armTimer(PHASE, connect, stableSeconds * 1000 - 10000);
    proven = 1;
    return;
  }
  const attempt = ++generation; // a late callback of an earlier attempt is stale from here on
  // a current attempt always has makeSession (stop() clears the timer and bumps generation);
  // the session made for its Wi-Fi join serves its MQTT login too (signed once per attempt)
  if (!current)
    try {
      session = current = makeSession!();
    } catch (thrown: any) {
      return dropLink("session: " + ((thrown && thrown.message) || thrown));
    }
  keepAlive = current._keepAlive;
  if (wifiState != WIFI_UP) {
    state = WIFI;
    wifiState = WIFI_JOINING;
    // a drop while joining leaves Wi-Fi down (dropLink)
    armTimer(PHASE, "wifi timeout", wifiSeconds * 1000);
    env._wifiConnect(current._ssid, current._wifiPassword, (err) => {
      if (attempt != generation) return;
      if (err) dropLink("wifi: " + err);
      else {
        wifiState = WIFI_UP;
        connect();
      }
    });
    return;
  }
  reader = { _maxPacket: maxPacket };
  state = CONNECTING;
  armTimer(PHASE, "connack timeout", connackSeconds * 1000);
  try {
    socket = env._connect(current.host, current.port, current._tls, onSocketEvent);
  } catch (thrown: any) {
    dropLink("connect: " + ((thrown && thrown.message) || thrown));
  }
};
// The socket handler: one for every event of every socket, created once (closures per
// connection would cost RAM while online, a function per event is resident). Espruino (and
// Node) call it with the socket as `this`: a handler of a socket that was replaced or ended
// sees another `socket` and does nothing. The argument tells the event (LinkEnv._connect):
// data, the most frequent, is tested first.
function onSocketEvent(this: LinkSocket, arg: any) {
  const from = this;
  if (from != socket) return;
  if (typeof arg == "string") {
    // any byte proves the link alive (the keep-alive's tick counts from here; a PINGREQ out
    // is answered)
    heardQuiet = 0;
    try {
      // a packet may end the session: the rest of the chunk is then ignored (onPacket).
      // NOINLINE: terser would move readPackets, called only here, into this function as a
      // function expression, created (its text lexed) again for every chunk received
      /*#__NOINLINE__*/ readPackets(reader!, arg, onPacket);
    } catch (thrown: any) {
      if (from == socket) dropLink("" + ((thrown && thrown.message) || thrown));
    }
  } else if (arg == from)
    connect(arg); // connected: the login's next step
  else dropLink("socket closed"); // closed, or an error (then a close, ignored: stale)
}
// tear down the session (socket, reader, all timers but the watchdog's); true if it was
// online. The reader goes too: a partial packet it holds (up to maxPacket bytes) would stay
// in RAM through the backoff.
const endSession = (nextState: number) => {
  const oldSocket = socket,
    wasOnline = state == ONLINE;
  generation++;
  socket = reader = null;
  session = undefined;
  state = nextState;
  actions[PHASE] = actions[KEEPALIVE] = actions[PING] = null;
  if (oldSocket)
    try {
      oldSocket.end();
    } catch (ignored) {
      /* already closed */
    }
  return wasOnline;
};
// Callers run onOffline last (`if (wasOnline) callUser(link.onOffline)`), once the link is
// consistent: it may call stop() or start(). Inline, not a helper: each function is resident.
// badCredentials: CONNACK 4 or 5, retried on the long schedule
const dropLink = (reason: string, badCredentials?: boolean) => {
  if (state == WIFI) wifiState = WIFI_DOWN; // the Wi-Fi join failed or timed out
  const wasOnline = endSession(BACKOFF);
  // The platform closes the older of two logins with the same credentials. With a twin
  // device it stays reachable: our next login succeeds at once (kicking the twin) and is
  // closed again when the twin logs in after its own backoff. A flaky network or a
  // restarting broker closes sessions too, but then attempts fail in between (refused,
  // timed out): every drop other than the close of an online session ends the count.
  twinCloses = wasOnline && reason == "socket closed" ? twinCloses + 1 : 0;
  const twin = twinCloses > 2;
  error(twin ? "another device is probably using these credentials" : reason);
  reconnects++;
  // the login schedule (2 s to 15 min) or the network one (1 s to 1 min); one call of
  // backoffDelay, which the build then inlines (a function of its own is resident)
  const longSchedule = twin || badCredentials;
  armTimer(
    PHASE,
    connect,
    backoffDelay(
      longSchedule ? loginAttempts++ : networkAttempts++,
      longSchedule ? 2000 : 1000,
      longSchedule ? 900000 : 60000,
      env._random(),
    ),
  );
  if (wasOnline) callUser(link.onOffline);
};
// Writes bytes; without bytes (the keep-alive's tick calls it so) a PINGREQ. (One function for
// both: each function is resident.)
const send = (bytes?: string) => {
  if (socket)
    try {
      socket.write(bytes || "\xc0\0"); // PINGREQ (mqtt.ts encodePingreq; a literal stays in flash)
      sendQuiet = 0; // (the keep-alive's tick counts from here)
    } catch (thrown: any) {
      dropLink("write: " + ((thrown && thrown.message) || thrown));
    }
};
// A packet as the reader gives it: its first header byte and its body; from: the reader it
// came from, a packet of a reader no longer current (its session ended while its chunk was
// read) is ignored. (No closure made per chunk to tell it: CPU.)
// A well-formed PUBACK, the most common packet, is read first: no packet object, no call, and
// nothing else lexed before it (Espruino lexes the text it skips). A malformed packet throws
// (decodePublish, decodeAck): the socket handler drops the session.
const onPacket = (header: number, body: string, from: MqttReader) => {
  // here, not in the loop: a let in a block costs a scope object per run
  let index: number, type: number, packet: any, ackedId: number;
  if (from != reader) return;
  if (header == 64 && body.length == 2) {
    ackedId = (body.charCodeAt(0) << 8) | body.charCodeAt(1);
    // in place, no new array; acknowledgements mostly come in order: the first item matches.
    // (Till the first empty entry: an index is read faster than an array's .length,
    // docs/ESPRUINO.md §9)
    for (index = 0; queue[index]; index++) if (queue[index]._id == ackedId) return queue.splice(index, 1);
    return;
  }
  type = header >> 4;
  packet = type == PUBLISH ? /*#__NOINLINE__*/ decodePublish(header, body) : /*#__NOINLINE__*/ decodeAck(type, body);
  // a message, the next most common (but while registering: the reply is a step of it)
  if (type == PUBLISH && state != REGISTERING) {
    if (packet.qos) send(encodePuback(packet.id));
    // callUser's work written here: a call less per message
    try {
      if (link.onMessage) link.onMessage(packet.topic, packet.payload);
    } catch (thrown: any) {
      error("callback: " + ((thrown && thrown.message) || thrown));
    }
    return;
  }
  // the CONNACK, and any packet while registering, are steps of the (re)connect
  if ((type == CONNACK && state == CONNECTING) || state == REGISTERING) return connect(packet);
  if (type == SUBACK && packet.granted.indexOf(128) >= 0) error("subscribe refused");
};
// The Link object: made once, at the top level of the bundle, its methods written in it (a
// function there keeps no scope, and has no other name to cost a JsVar). Link() resets it.
export const link: Link = {
  // the user's handlers (none: nothing is called)
  onMessage: null,
  onOnline: null,
  onOffline: null,
  _id: 0,
  // sessionMaker: called at each attempt (it reads the current config), so that no session is
  // kept online; it may throw (the attempt then fails and backs off)
  start(sessionMaker: () => Session) {
    const wasOnline = endSession(WIFI);
    makeSession = sessionMaker;
    networkAttempts = loginAttempts = twinCloses = 0;
    wifiState = WIFI_OFF; // a new session joins its Wi-Fi again
    connect();
    if (wasOnline) callUser(link.onOffline);
  },
  stop() {
    if (state == ONLINE) send("\xe0\0"); // DISCONNECT (mqtt.ts encodeDisconnect)
    const wasOnline = endSession(STOPPED);
    makeSession = null;
    if (wasOnline) callUser(link.onOffline);
  },
  // ignored while connecting: Wifi.connect itself may report the old link's loss
  wifiLost() {
    if (wifiState != WIFI_UP) return;
    wifiState = WIFI_DOWN;
    if (makeSession) dropLink("wifi lost"); // stopped: nothing to drop
  },
  publish(topic: string, payload: string, qos: 0 | 1) {
    // _bytes last: Espruino 2v29 lets a throw in a non-last object literal value escape try/catch
    // the next packet id, 1..65535, never one still queued, in O(1): ids are given in order
    // and the queue keeps that order, so the queued ids run round from the oldest's: the next
    // id can only meet a queued one when it comes round to the oldest, which 65535 later ids
    // have passed since it was sent unacknowledged: that one is dropped then (counted), as
    // when the queue is full
    const id = qos ? (link._id % 65535) + 1 : 0,
      online = state == ONLINE,
      item: QueuedPublish = {
        _id: id,
        _bytes: encodePublish(topic, payload, qos, id, maxPacket),
      };
    if (!qos) {
      if (online) send(item._bytes);
      return;
    } // QoS 0 offline: dropped, not counted
    link._id = id;
    // the oldest goes (counted) when the new id has come round to it, or when the queue is full
    // (one shift serves both; queue[0] first: cheaper than .length, and mostly there is none)
    if (queue[0] && (queue[0]._id == id || queue.length >= queueLength)) {
      queue.shift();
      dropped++;
    }
    queue.push(item);
    if (online) send(item._bytes);
    else unsent++; // never sent: no DUP when it first goes out
  },
  status() {
    return {
      state: STATES.split(",")[state],
      wifi: WIFI_STATES.split(",")[wifiState],
      connects: connects,
      reconnects: reconnects,
      lastError: lastError,
      uptime: Math.floor(env._uptime()),
      queue: queue.length,
      dropped: dropped,
      free: env._memory().free,
    };
  },
  error: error,
};
// Starts the link's watchdog feeder; start() then connects. `new Link(..)` works too.
export function Link(linkEnv: LinkEnv, settings: LinkSettings): Link {
  env = linkEnv;
  watchdogSeconds = settings.watchdogSeconds;
  queueLength = settings.queueLength;
  maxPacket = settings.maxPacket;
  connackSeconds = settings.connackTimeoutSeconds;
  pingSeconds = settings.pingTimeoutSeconds;
  wifiSeconds = settings.wifiTimeoutSeconds;
  stableSeconds = settings.stableSeconds;
  offlineResetMinutes = settings.offlineResetMinutes;
  deadlines = [];
  actions = [];
  makeSession = socket = reader = timer = null;
  session = undefined;
  keepAlive = sendQuiet = heardQuiet = 0;
  state = UNCONFIGURED;
  wifiState = WIFI_OFF;
  lastError = "";
  queue = [];
  unsent = 0;
  connects = reconnects = dropped = offlineTicks = networkAttempts = loginAttempts = generation = twinCloses = 0;
  proven = 0;
  timerAt = 0;
  link.onMessage = link.onOnline = link.onOffline = null;
  link._id = 0;
  env._kick();
  armTimer(WATCHDOG, BY_TICK, Math.round((watchdogSeconds * 1000) / 3));
  return link;
}
