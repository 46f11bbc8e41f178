// The Espruino simulator: runs the unmodified dist/firmware.js in a node:vm context with
// stand-ins for the Espruino 2v29 (ESP32) APIs it uses. The stand-ins copy the device's traps
// (see docs/ESPRUINO.md) so that code which only works on Node fails here too.
//
// Where to look:
//   device.ts        createDevice(): boot, reboot, console input, the handle tests hold
//   context.ts       one interpreter's globals: Date, events, E, require, console, process
//   subset.ts        removal of what Espruino lacks (Map, Set, Array.from, ...)
//   timers.ts        setTimeout & co. with Espruino's id reuse and clear rules
//   net.ts           sockets (sync DNS, async errors, abandoned links)
//   wifi.ts          the Wifi module and the simulated access point
//   storage.ts       Storage as one host file per name
//   watchdog.ts      E.enableWatchdog / E.kickWatchdog
//   format.ts        how values and uncaught errors print
//   espruino-json.ts Storage's JSON dialect
//   core.ts          shared state and the host <-> device realm helpers
//
// Choices where Node cannot be the device (documented so tests can rely on them) are in the
// header of the file concerned. Two more: process.memory() numbers are plausible, not measured
// (usage ~ bundle text / 12 + 600), and unknown timer ids are ignored by clearTimeout (2v29);
// only `undefined` throws.
export { createDevice, type Device } from "./device";
export type { DeviceOptions } from "./core";
export { format } from "./format";
export { espruinoJSON, parseLiberal } from "./espruino-json";
