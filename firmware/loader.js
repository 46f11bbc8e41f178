// The OTA boot loader: `npm run flash` stores it (minified: dist/loader.js) as .bootcde. It is
// never replaced over the air, so it stays small; everything else, the OTA code included,
// lives in the image it runs. Plain ES5: it is not bundled with the firmware.
//
// It picks the state record (two files ota.s0/ota.s1, the valid one with the higher sequence
// n wins; lib/ota.ts describes the fields), then runs module 0 (the firmware image) and module
// 1 (the app) straight from Storage, so their function code stays in flash. A module on trial
// (t: 1 installed, 2 booted once) is rolled back to its previous file when
// - this boot finds t == 2: the first boot of the new file ended in a reset before it came
//   online (the image sets t = 0 once online, or rolls back itself when the trial time ends);
// - running it throws: the record is rolled back, then the board restarts.
// Each state change is saved before the step it guards, so a power cut at any moment boots
// either the old or the new file.
//
// RAM: the modules are evaluated by the loop at the end, at the top level of this file, not
// inside a function. Espruino gives every function the chain of scopes it was defined in
// (an array, one JsVar per level, in each function); code evaluated at the top level has no
// enclosing scope, which saves JsVars in every function the firmware and the app keep
// (measured in bench/ram.ts). Top-level names are globals: the loader keeps its state on its
// one function, otaBoot, and deletes it when done.

// otaBoot(i): the Storage file to run for module i, after the trial bookkeeping; "" to skip
// it; undefined to stop booting. otaBoot(i, error): module i threw at load; true: stop.
var otaBoot = function (i, error) {
  var storage = require("Storage"),
    state = otaBoot.s,
    record,
    j,
    m;
  var save = function () {
    state.n++;
    storage.writeJSON("ota.s" + (state.n & 1), state);
  };
  var back = function (why) {
    m.r = m.v + ": " + why;
    m.f = m.g;
    m.v = m.w;
    m.g = m.w = "";
    m.t = 0;
    save();
  };
  if (!state) {
    for (j = 0; j < 2; j++) {
      record = storage.readJSON("ota.s" + j, 1);
      if (record && record.m && record.m[1] && !(state && state.n > record.n)) state = record;
    }
    state = otaBoot.s = state || { n: 0, m: [{ f: "fw.a" }, { f: "app.js" }] };
    global.otaLoader = 1;
  }
  m = state.m[i];
  if (error) {
    print("boot: " + m.f + " threw " + error);
    if (m.t) {
      back("threw at load: " + error);
      // from a timer: the Linux builds ignore a load() made while boot code runs (and have
      // no E.reboot(), BOARD "LINUX" or "LINUX_…"; load() restarts them in process)
      global.otaLoader = 2;
      setTimeout(function () {
        if (process.env.BOARD.slice(0, 5) == "LINUX") load();
        else E.reboot();
      }, 9);
      return 1;
    }
    return !i;
  }
  if (m.t && m.g) {
    if (m.t > 1) back("reset before it came online");
    else {
      m.t = 2;
      save();
    }
  }
  if (m.f && storage.read(m.f)) return m.f;
  if (!i) print("boot: no firmware in Storage " + m.f + ": run npm run flash");
  else return "";
};
for (otaBoot.i = 0; otaBoot.i < 2; otaBoot.i++) {
  otaBoot.f = otaBoot(otaBoot.i);
  if (otaBoot.f == null) break;
  if (otaBoot.f)
    try {
      eval(require("Storage").read(otaBoot.f));
    } catch (e) {
      if (otaBoot(otaBoot.i, e)) break;
    }
}
delete global.otaBoot;
