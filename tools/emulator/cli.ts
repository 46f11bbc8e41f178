// `npm run emulator -- [--port 1883] [--devices .emulator/devices.json] [--time-scale N]`:
// the local IoT Platform emulator alone, logging its events, for your own clients and SDKs.
// A missing devices file is created with one demo device; its secret stays in the file.
import { startEmulator } from './index'

const args = process.argv.slice(2)
const o = { port: 1883, devicesFile: '.emulator/devices.json', timeScale: 1 }
for (let i = 0; i < args.length; i++) {
  const a = args[i]; const v = args[i + 1]
  if (a === '-h' || a === '--help') {
    console.log('usage: npm run emulator -- [--port 1883] [--devices file] [--time-scale N]')
    process.exit(0)
  } else if (a === '--port' && /^\d+$/.test(v || '')) { o.port = +v; i++ } else if (a === '--devices' && v) { o.devicesFile = v; i++ } else if (a === '--time-scale' && +v > 0) { o.timeScale = +v; i++ } else {
    console.error('emulator: bad argument ' + a + (v !== undefined ? ' ' + v : '') + ' (see --help)')
    process.exit(2)
  }
}

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
const stop = () => { emu.close().then(() => process.exit(0)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
