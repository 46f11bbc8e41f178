// Relay example: drives a relay on pin D4 from the thing model's property PowerSwitch (0/1),
// set from the cloud, and from the service Toggle (which returns the new state). The state is
// reported at every login so the console shows the truth after a reboot.
// Build: npm run build:app -- examples/relay/app.ts (→ dist/app.js).
const RELAY = D4;
let on = false;

function drive(value: boolean) {
  on = value;
  digitalWrite(RELAY, on ? 1 : 0);
}

drive(false); // a known state at boot

iot.on("online", () => {
  iot.post({ PowerSwitch: on ? 1 : 0 });
});

// The cloud sets the property. A number returned is the reply code: 460 refuses a bad value
// (the platform's "request parameter error"); an accepted value is posted back by the firmware.
iot.on("set", (params) => {
  if (params.PowerSwitch === undefined) return;
  const v = params.PowerSwitch;
  if (v !== 0 && v !== 1) return 460;
  drive(v === 1);
  return 200;
});

// The cloud calls the service Toggle; its output params carry the new state.
iot.on("service", (identifier) => {
  if (identifier !== "Toggle") return 404;
  drive(!on);
  iot.post({ PowerSwitch: on ? 1 : 0 });
  return { PowerSwitch: on ? 1 : 0 };
});
