import { rmSync } from "node:fs";
import { startEmulator } from "../tools/emulator/index";
import { startDevice, randomName } from "../tools/real-interpreter/run";
const POST = `
(function(){
iot.on("online",function(){setTimeout(function(){
var out=[],k,v,seen=0,g=global;
for(k in g){v=g[k];try{out.push([k,typeof v,E.getSizeOf(v,0)])}catch(e){}}
out.sort(function(a,b){return b[2]-a[2]});
__out("sizes",{list:out.slice(0,60),usage:process.memory().usage});
},500)});
})();
`;
const espruino = process.argv[2];
const dev = { productKey: randomName(11), deviceName: "espruino-bench", deviceSecret: randomName(32) };
const emu = await startEmulator({ port: 0, devices: [dev], log: () => {} });
const setup = Object.assign(
  { ssid: "emulator", password: "password123", host: "127.0.0.1", port: emu.port, tls: false },
  dev,
);
const first = startDevice({
  espruino,
  firmware: "dist/firmware.js",
  boot: "storage",
  setup,
  plan: {},
  timeoutMs: 30000,
});
await first.wait("online", 15000, true);
await first.kill();
const d = startDevice({
  espruino,
  firmware: "dist/firmware.js",
  boot: "storage",
  dir: first.dir,
  postlude: POST,
  setup: null,
  plan: {},
  timeoutMs: 30000,
});
const s = await d.wait("sizes", 15000, true);
for (const r of s.list) console.log(r.join("\t"));
console.log("usage", s.usage);
await d.kill();
rmSync(first.dir, { recursive: true, force: true });
await emu.close();
