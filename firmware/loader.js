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
// either the old or the new file. `run` is created outside this function: eval'd code sees
// only `c` and the globals, and keeps nothing of the loader alive.
(function (run) {
  var storage = require("Storage"),
    state,
    record,
    i,
    m,
    code;
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
  for (i = 0; i < 2; i++) {
    record = storage.readJSON("ota.s" + i, 1);
    if (record && record.m && record.m[1] && !(state && state.n > record.n)) state = record;
  }
  state = state || { n: 0, m: [{ f: "fw.a" }, { f: "app.js" }] };
  global.otaLoader = 1;
  for (i = 0; i < 2; i++) {
    m = state.m[i];
    if (m.t && m.g) {
      if (m.t > 1) back("reset before it came online");
      else {
        m.t = 2;
        save();
      }
    }
    code = m.f && storage.read(m.f);
    if (!code) {
      if (!i) return print("boot: no firmware in Storage " + m.f + ": run npm run flash");
      continue;
    }
    try {
      run(code);
    } catch (e) {
      print("boot: " + m.f + " threw " + e);
      if (m.t) {
        back("threw at load: " + e);
        // from a timer: the Linux build ignores a load() made while boot code runs (and has
        // no E.reboot(); load() restarts it in process)
        global.otaLoader = 2;
        return setTimeout(function () {
          if (process.env.BOARD == "LINUX") load();
          else E.reboot();
        }, 9);
      }
      if (!i) return;
    }
  }
})(function (c) {
  eval(c);
});
