// The demo application `npm start` writes into the simulated Storage as app.js on first run;
// the firmware runs it after start. It is device code: Espruino's ES2015 subset, no Node API.
export const POST_SECONDS = 10;

export const DEMO_APP = `// Demo app written by npm start: posts a fake temperature every ${POST_SECONDS} s while online.
var demoTimer = null;
function demoPost() {
  try { iot.post({Temp: Math.round((20 + Math.random() * 5) * 10) / 10}); }
  catch (e) { console.log("app: post failed: " + e.message); }
}
iot.on("online", function () {
  console.log("app: online, posting Temp every ${POST_SECONDS} s");
  demoPost();
  if (demoTimer === null) demoTimer = setInterval(demoPost, ${POST_SECONDS * 1000});
});
iot.on("offline", function () {
  if (demoTimer !== null) { clearInterval(demoTimer); demoTimer = null; }
});
iot.on("reply", function (id, code) { console.log("app: reply to " + id + ": " + code); });
iot.on("set", function (p) { console.log("app: cloud set " + JSON.stringify(p)); iot.post(p); });
`;
