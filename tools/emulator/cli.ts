// `npm run emulator -- [--port 1883] [--devices .emulator/devices.json] [--time-scale N]
//    [--ota FILE --version V [--module app] [--sign-method SHA256|Md5] [--url]]`:
// the local IoT Platform emulator alone, logging its events, for your own clients and SDKs.
// --ota: an OTA job for every device, pushed once when it subscribes, served by MQTT download
// (--url pushes an https URL instead, which this firmware answers with -2).
// A missing devices file is created with one demo device; its secret stays in the file.
import { readFileSync } from 'node:fs'
import { startEmulator } from './index'

const args = process.argv.slice(2)
const o = { port: 1883, devicesFile: '.emulator/devices.json', timeScale: 1 }
const ota = { file: '', version: '', module: 'default', signMethod: 'SHA256', url: false }
for (let i = 0; i < args.length; i++) {
  const a = args[i]; const v = args[i + 1]
  if (a === '-h' || a === '--help') {
    console.log('usage: npm run emulator -- [--port 1883] [--devices file] [--time-scale N]\n' +
      '         [--ota FILE --version V [--module app] [--sign-method SHA256|Md5] [--url]]')
    process.exit(0)
  } else if (a === '--port' && /^\d+$/.test(v || '')) { o.port = +v; i++ } else if (a === '--devices' && v) { o.devicesFile = v; i++ } else if (a === '--time-scale' && +v > 0) { o.timeScale = +v; i++ } else if (a === '--ota' && v) { ota.file = v; i++ } else if (a === '--version' && v) { ota.version = v; i++ } else if (a === '--module' && v) { ota.module = v; i++ } else if (a === '--sign-method' && v) { ota.signMethod = v; i++ } else if (a === '--url') ota.url = true
  else {
    console.error('emulator: bad argument ' + a + (v !== undefined ? ' ' + v : '') + ' (see --help)')
    process.exit(2)
  }
}

if (ota.file && !ota.version) { console.error('emulator: --ota needs --version'); process.exit(2) }

const ts = () => new Date().toISOString().slice(11, 23)
const emu = await startEmulator({ ...o, log: line => console.log(ts() + ' ' + line) })
console.log(ts() + ' devices (' + o.devicesFile + '): ' + emu.devices.map(d => d.productKey + '/' + d.deviceName).join(', '))
if (emu.demo) {
  // The secret stays in the file: logs never carry secrets.
  console.log(ts() + ' created demo device ' + emu.demo.productKey + '/' + emu.demo.deviceName + ' in ' + o.devicesFile +
    '\n  connect to 127.0.0.1:' + emu.port + ', clientId "<id>|securemode=3,signmethod=hmacsha256|", username "' +
    emu.demo.deviceName + '&' + emu.demo.productKey + '", password = hex HMAC-SHA256(deviceSecret from that file, "clientId<id>deviceName' +
    emu.demo.deviceName + 'productKey' + emu.demo.productKey + '")')
}
if (ota.file) {
  const file = readFileSync(ota.file)
  const pushed = new Set<string>()
  emu.on('subscribe', (e: any) => {
    const key = e.productKey + '/' + e.deviceName
    if (pushed.has(key)) return
    pushed.add(key)
    emu.ota(e.productKey, e.deviceName, { file, version: ota.version, module: ota.module, signMethod: ota.signMethod, url: ota.url })
  })
  for (const ev of ['ota_progress', 'ota_inform']) emu.on(ev, (e: any) => console.log(ts() + ' ' + ev + ' ' + JSON.stringify(e)))
  console.log(ts() + ' OTA job: ' + ota.file + ' (' + file.length + ' B) as ' + ota.module + ' ' + ota.version + ', pushed to each device at its subscribe')
}
const stop = () => { emu.close().then(() => process.exit(0)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
