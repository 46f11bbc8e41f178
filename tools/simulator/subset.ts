// Removes from the interpreter what Espruino 2v29 does not have, so firmware that leans on it
// fails in the simulator as it would on the board (see docs/ESPRUINO.md for the full subset).
// Only globals and methods can be removed this way; syntax the device lacks (destructuring,
// spread, ...) is caught on the bundle by tools/build/check-bundle.ts instead.
import vm from "node:vm";

export const REMOVED_GLOBALS = [
  "Map",
  "Set",
  "WeakMap",
  "WeakSet",
  "Symbol",
  "Proxy",
  "Reflect",
  "WeakRef",
  "FinalizationRegistry",
];

export function removeMissingFeatures(ctx: vm.Context) {
  vm.runInContext(
    `(function () {
    ${JSON.stringify(REMOVED_GLOBALS)}.forEach(function (n) { delete globalThis[n]; });
    delete Array.from; delete Object.getPrototypeOf(Uint8Array).from; delete Number.isInteger;
    delete Math.trunc; delete Math.imul; delete Object.freeze;
    delete ArrayBuffer.prototype.slice; delete Promise.prototype.finally;
  })()`,
    ctx,
  );
}
