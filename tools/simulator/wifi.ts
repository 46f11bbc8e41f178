// The `Wifi` module of an ESP32 station and the access point it talks to. A connect takes
// `wifiDelay` ms of device time and fails with the ESP32's reason codes when the AP is gone
// (201 NO_AP_FOUND) or the password is wrong (202 AUTH_FAIL). A drop emits 'disconnected' at
// once (the ESP32 retries silently 3 times first; with the AP gone those retries fail anyway)
// and abandons every open socket.
import type { Core } from "./core";

export const MAC = "24:0a:c4:00:00:01";
export const IP = { ip: "192.168.4.2", netmask: "255.255.255.0", gw: "192.168.4.1" };

/** @param abandonSockets called when the link drops: the device loses its sockets */
export function createWifi(core: Core, abandonSockets: () => void) {
  const ap = { ssid: "SimAP", password: "sim-password", ...(core.opts.wifi || {}) };
  const wifi = { up: true, state: "off", attempt: 0, hostname: "espruino", timer: null as any };
  /** This boot's Wifi module object (listeners live on it). */
  let Wifi: any = null;

  function drop(reason: string, msg: string) {
    const was = wifi.state === "connected";
    wifi.state = "off";
    abandonSockets();
    if (was) {
      core.log("wifi: disconnected (" + msg + ")");
      const g = core.gen;
      setImmediate(() => {
        if (g === core.gen) core.fire(Wifi, "disconnected", [core.toCtx({ ssid: ap.ssid, mac: MAC, reason, msg })]);
      });
    }
  }

  function connect(ssid: any, o: any, cb: any) {
    if (typeof o === "function") {
      cb = o;
      o = {};
    }
    const pass = o && o.password !== undefined ? String(o.password) : "";
    if (wifi.state === "connected") drop("8", "ASSOC_LEAVE");
    const n = ++wifi.attempt;
    const g = core.gen;
    wifi.state = "connecting";
    core.log("wifi: connecting to " + JSON.stringify(String(ssid)));
    clearTimeout(wifi.timer);
    wifi.timer = setTimeout(
      () => {
        if (g !== core.gen || n !== wifi.attempt) return;
        const bad =
          !wifi.up || String(ssid) !== ap.ssid
            ? ["201", "NO_AP_FOUND", "no_ap_found"]
            : pass !== ap.password
              ? ["202", "AUTH_FAIL", "wrong_password"]
              : null;
        if (bad) {
          wifi.state = bad[2];
          core.log("wifi: " + bad[1]);
          core.fire(Wifi, "disconnected", [core.toCtx({ ssid: String(ssid), mac: MAC, reason: bad[0], msg: bad[1] })]);
          if (typeof cb === "function") core.call(g, cb, Wifi, [bad[1]]);
          return;
        }
        wifi.state = "connected";
        core.log("wifi: connected, ip " + IP.ip);
        core.fire(Wifi, "associated", [core.toCtx({ ssid: ap.ssid, mac: MAC, channel: "6" })]);
        if (typeof cb === "function") core.call(g, cb, Wifi, [null]);
        core.fire(Wifi, "connected", [core.toCtx(IP)]);
      },
      (core.opts.wifiDelay === undefined ? 1500 : core.opts.wifiDelay) / core.timeScale,
    );
  }

  /** Calls a device callback soon after, as Espruino does for these methods. */
  function later(cb: any, args: any[]) {
    if (typeof cb === "function") {
      const g = core.gen;
      setImmediate(() => core.call(g, cb, Wifi, args));
    }
  }

  /** A fresh Wifi module for a new interpreter. */
  function makeModule() {
    Wifi = core.module("Wifi", {
      connect,
      disconnect(cb: any) {
        wifi.attempt++;
        drop("8", "ASSOC_LEAVE");
        later(cb, []);
      },
      getIP(cb: any) {
        const r = core.toCtx(
          wifi.state === "connected"
            ? { ...IP, mac: MAC }
            : { ip: "0.0.0.0", netmask: "0.0.0.0", gw: "0.0.0.0", mac: MAC },
        );
        later(cb, [r]);
        return r;
      },
      getStatus(cb: any) {
        const r = core.toCtx({
          mode: "STA",
          station: wifi.state,
          ap: "disabled",
          phy: "11n",
          powersave: "none",
          savedMode: "off",
        });
        later(cb, [r]);
        return r;
      },
      setHostname(h: any, cb: any) {
        wifi.hostname = String(h);
        later(cb, []);
      },
      getHostname(cb: any) {
        later(cb, [wifi.hostname]);
        return wifi.hostname;
      },
    });
    return Wifi;
  }

  return {
    makeModule,
    get connected() {
      return wifi.state === "connected";
    },
    get state() {
      return wifi.state;
    },
    /** The access point disappears. */
    apDown() {
      wifi.up = false;
      core.log("sim: access point down");
      drop("200", "BEACON_TIMEOUT");
    },
    /** The access point is back (the firmware must reconnect by itself). */
    apUp() {
      wifi.up = true;
      core.log("sim: access point up");
    },
    /** Power cycle: the radio is off until the firmware connects again. */
    reset() {
      clearTimeout(wifi.timer);
      wifi.state = "off";
      wifi.attempt++;
    },
    stop() {
      clearTimeout(wifi.timer);
    },
  };
}
