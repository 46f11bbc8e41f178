// Sensor example: posts the chip temperature every minute while online, and says when the
// platform refused a value. Build: npm run build:app -- examples/sensor/app.ts (→ dist/app.js),
// then npm run upload-app -- --port /dev/ttyUSB0 dist/app.js. Runs in npm start too:
// npm start -- --app dist/app.js
const PERIOD_MS = 60000;
let timer: any = null;

function postTemperature() {
  // rounded to 0.1: the thing model's float property takes any number, but a short payload is cheaper
  const celsius = Math.round(E.getTemperature() * 10) / 10;
  try {
    iot.post({ Temp: celsius });
  } catch (e) {
    // unconfigured, or a packet over maxPacket: the next period tries again
    console.log("sensor: post failed: " + (e as Error).message);
  }
}

iot.on("online", () => {
  postTemperature();
  if (timer === null) timer = setInterval(postTemperature, PERIOD_MS);
});
iot.on("offline", () => {
  // posts made offline would queue up (and the oldest be dropped): stop sampling until online
  if (timer !== null) {
    clearInterval(timer);
    timer = null;
  }
});
iot.on("reply", (id, code, reply) => {
  if (code !== 200) console.log("sensor: post " + id + " refused: " + code + " " + (reply.message || ""));
});
