// Cloud-side commands at the `npm start` prompt (local emulator only), to try services, RRPC and
// device logs on the simulated device:
//   .service <identifier> [json params]   asynchronous service call, prints the device's reply
//   .sync <identifier> [json params]      synchronous call (RRPC over /ext/rrpc)
//   .rrpc <text>                          classic RRPC, prints the device's response
//   .logs on|off                          the platform's log switch for the device
// The device's log posts are printed as they arrive ([cloud] log ...).
export const CLOUD_HELP = '.service <identifier> [json], .sync <identifier> [json], .rrpc <text>, .logs on|off'

/** Returned by run() for a line it handled: nothing to print as "=result". */
export const HANDLED = Symbol('handled')

export function cloudCommands (emu: any, device: { productKey: string, deviceName: string }, print: (line: string) => void) {
  const pk = device.productKey; const dn = device.deviceName
  emu.on('log', (e: any) => {
    if (e.productKey !== pk || e.deviceName !== dn) return
    for (const x of e.entries) print('[cloud] log ' + x.utcTime + ' ' + x.logLevel + ' ' + x.module + (x.code ? ' [' + x.code + ']' : '') + ': ' + x.logContent)
    if (e.errors.length) print('[cloud] log post INVALID: ' + e.errors.join('; '))
  })
  const show = (what: string, p: Promise<any>) => p.then(
    v => print('[cloud] ' + what + ' -> ' + (typeof v === 'string' ? v : JSON.stringify(v))),
    e => print('[cloud] ' + what + ' failed: ' + (e as Error).message))

  /** Runs a cloud command line; undefined if the line is not one (it goes to the device). */
  function run (line: string): typeof HANDLED | undefined {
    const m = /^\.(service|sync|rrpc|logs)(?:\s+([\s\S]*))?$/.exec(line)
    if (!m) return undefined
    const rest = (m[2] || '').trim()
    if (m[1] === 'rrpc') { show('rrpc ' + JSON.stringify(rest), emu.rrpc(pk, dn, rest)); return HANDLED }
    if (m[1] === 'logs') {
      if (rest !== 'on' && rest !== 'off') print('[cloud] usage: .logs on|off')
      else { emu.setLogMode(pk, dn, rest === 'on' ? 1 : 0); print('[cloud] log switch ' + rest) }
      return HANDLED
    }
    const s = /^(\w+)\s*([\s\S]*)$/.exec(rest)
    let params: any = {}
    try { if (s && s[2]) params = JSON.parse(s[2]) } catch (e) { print('[cloud] params: ' + (e as Error).message); return HANDLED }
    if (!s) { print('[cloud] usage: ' + CLOUD_HELP); return HANDLED }
    show(m[1] + ' ' + s[1], emu.callService(pk, dn, s[1], params, { sync: m[1] === 'sync' }))
    return HANDLED
  }
  return { run }
}
