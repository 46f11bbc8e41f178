// Host simulator: runs the unmodified dist/firmware.js in a node:vm context with stand-ins for
// the Espruino 2v29 (ESP32) APIs it uses. The stand-ins copy the device's traps (see
// ../../shared/ESPRUINO.md) so that code which only works on Node fails here too.
//
// Choices where Node cannot be the device (documented so tests can rely on them):
// - net.connect: DNS is resolved synchronously (a blocking child process, like the device's
//   blocking lookup); a failed lookup THROWS InternalError "Unable to locate host", and with
//   Wi-Fi down it throws "Unable to create socket". A TCP connect cannot be synchronous in
//   Node, so a refused connect is reported the way Espruino reports async socket failures:
//   'error' {code, message}, then 'end', then 'close' (hadError = true).
// - Wi-Fi loss and reboots abandon open sockets on the device side ('end' + 'close' fire in
//   the device) without closing the TCP link: like a real board, the broker only notices
//   through its keep-alive limit or a second login. close() destroys them.
// - A drop emits 'disconnected' at once (ESP32 retries silently 3 times first; with the AP
//   gone those retries fail anyway).
// - process.memory() numbers are plausible, not measured: usage ~ bundle text / 12 + 600.
// - The language subset: Map, Set, WeakMap, WeakSet, Symbol, Proxy, Reflect, Array.from,
//   %TypedArray%.from, Number.isInteger, Math.trunc, Math.imul, Object.freeze,
//   ArrayBuffer.prototype.slice and Promise.prototype.finally are removed from the context.
// - Unknown timer ids are ignored by clearTimeout (2v29); only `undefined` throws.
import vm from 'node:vm'
import net from 'node:net'
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { EventEmitter } from 'node:events'

const JSVARS_TOTAL = 16000
const FLASH_BYTES = 896 * 1024
const MAC = '24:0a:c4:00:00:01'
const IP = { ip: '192.168.4.2', netmask: '255.255.255.0', gw: '192.168.4.1' }

/** Host wall clock in fractional ms (Espruino's Date.now() is fractional). */
const hostNow = () => performance.timeOrigin + performance.now()

/**
 * Espruino-like printing of a value (console.log of non-strings, REPL results).
 * @param {any} v
 * @param {boolean} [quote] quote strings (nested values, REPL results)
 * @returns {string}
 */
export function format (v, quote) {
  const seen = new Set()
  const f = (/** @type {any} */ x, /** @type {boolean} */ q) => {
    if (typeof x === 'string') return q ? JSON.stringify(x) : x
    if (x === undefined || x === null || typeof x !== 'object') {
      if (typeof x === 'function') return 'function () { [native code] }'
      return String(x)
    }
    if (seen.has(x)) return '~'
    seen.add(x)
    let r
    if (ArrayBuffer.isView(x) || x instanceof ArrayBuffer || Object.prototype.toString.call(x) === '[object ArrayBuffer]') {
      const u = ArrayBuffer.isView(x) ? x : new Uint8Array(x)
      r = 'new ' + (Object.prototype.toString.call(x).slice(8, -1)) + '([' + Array.prototype.join.call(u, ', ') + '])'
    } else if (Array.isArray(x)) {
      r = x.length ? '[ ' + x.map(e => f(e, true)).join(', ') + ' ]' : '[ ]'
    } else if (Object.prototype.toString.call(x) === '[object Error]') {
      r = x.name + ': ' + x.message
    } else {
      const k = Object.keys(x)
      r = k.length ? '{ ' + k.map(n => JSON.stringify(n) + ': ' + f(x[n], true)).join(', ') + ' }' : '{ }'
    }
    seen.delete(x)
    return r
  }
  return f(v, !!quote)
}

/** @param {any} e @returns {string} how Espruino prints an uncaught exception */
function uncaught (e) {
  if (e && typeof e === 'object' && typeof e.message === 'string') return 'Uncaught ' + (e.name || 'Error') + ': ' + e.message
  return 'Uncaught ' + format(e, true)
}

/** Storage file name -> host file name (28-char device names, safe on any host fs). */
function hostName (/** @type {string} */ name) {
  return name.replace(/[^A-Za-z0-9._-]/g, c => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).replace(/^\./, '%2e')
}
function deviceName (/** @type {string} */ file) {
  return decodeURIComponent(file)
}

/**
 * Espruino's Storage.writeJSON format: keys unquoted where they are identifiers, bytes >= 0x80
 * as \xNN, functions and undefined dropped, typed arrays as arrays.
 * @param {any} v
 * @returns {string | undefined}
 */
export function espruinoJSON (v) {
  if (v && typeof v.toJSON === 'function') v = v.toJSON()
  if (v === null) return 'null'
  switch (typeof v) {
    case 'number': return isFinite(v) ? String(v) : 'null'
    case 'boolean': return String(v)
    case 'string': {
      let s = '"'
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i)
        const ch = v[i]
        if (ch === '"' || ch === '\\') s += '\\' + ch
        else if (c === 10) s += '\\n'
        else if (c === 13) s += '\\r'
        else if (c === 9) s += '\\t'
        else if (c < 32 || c === 127) s += '\\x' + c.toString(16).padStart(2, '0')
        else if (c >= 128 && c < 256) s += '\\x' + c.toString(16)
        else if (c >= 256) s += '\\u' + c.toString(16).padStart(4, '0')
        else s += ch
      }
      return s + '"'
    }
    case 'object': {
      if (ArrayBuffer.isView(v) || Object.prototype.toString.call(v) === '[object ArrayBuffer]') {
        return '[' + Array.prototype.join.call(ArrayBuffer.isView(v) ? v : new Uint8Array(v), ',') + ']'
      }
      if (Array.isArray(v)) return '[' + v.map(e => { const j = espruinoJSON(e); return j === undefined ? 'null' : j }).join(',') + ']'
      const parts = []
      for (const k of Object.keys(v)) {
        const j = espruinoJSON(v[k])
        if (j === undefined) continue
        parts.push((/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : espruinoJSON(k)) + ':' + j)
      }
      return '{' + parts.join(',') + '}'
    }
    default: return undefined
  }
}

/**
 * Espruino's liberal JSON parser (readJSON): unquoted keys, '...' strings, \xNN escapes.
 * Throws a SyntaxError-like message "Got X expected Y" on garbage.
 * @param {string} t
 * @returns {any}
 */
export function parseLiberal (t) {
  let i = 0
  const ws = () => { while (i < t.length && /\s/.test(t[i])) i++ }
  const fail = (/** @type {string} */ want) => { throw new SyntaxError('Got ' + (i < t.length ? JSON.stringify(t[i]) : 'EOF') + ' expected ' + want) }
  const ident = () => { const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(t.slice(i)); if (!m) fail('ID'); i += m[0].length; return m[0] }
  const str = () => {
    const q = t[i++]; let s = ''
    for (;;) {
      if (i >= t.length) fail(q)
      const c = t[i++]
      if (c === q) return s
      if (c !== '\\') { s += c; continue }
      const e = t[i++]
      if (e === 'n') s += '\n'; else if (e === 'r') s += '\r'; else if (e === 't') s += '\t'
      else if (e === 'b') s += '\b'; else if (e === 'f') s += '\f'; else if (e === 'v') s += '\v'; else if (e === '0') s += '\0'
      else if (e === 'x' || e === 'u') {
        const n = e === 'x' ? 2 : 4; const h = t.slice(i, i + n)
        if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== n) fail('hex digits')
        s += String.fromCharCode(parseInt(h, 16)); i += n
      } else if (e === undefined) fail(q)
      else s += e
    }
  }
  /** @returns {any} */
  const val = () => {
    ws()
    const c = t[i]
    if (c === '{') {
      i++; const o = {}; ws()
      if (t[i] === '}') { i++; return o }
      for (;;) {
        ws()
        const k = t[i] === '"' || t[i] === "'" ? str() : /[0-9]/.test(t[i] || '') ? String(num()) : ident()
        ws(); if (t[i] !== ':') fail("':'"); i++
        /** @type {any} */ (o)[k] = val(); ws()
        if (t[i] === ',') { i++; continue }
        if (t[i] === '}') { i++; return o }
        fail("'}'")
      }
    }
    if (c === '[') {
      i++; const a = []; ws()
      if (t[i] === ']') { i++; return a }
      for (;;) {
        a.push(val()); ws()
        if (t[i] === ',') { i++; continue }
        if (t[i] === ']') { i++; return a }
        fail("']'")
      }
    }
    if (c === '"' || c === "'") return str()
    if (c === '-' || /[0-9]/.test(c || '')) return num()
    if (c === undefined) fail('a value')
    const w = ident()
    if (w === 'true') return true
    if (w === 'false') return false
    if (w === 'null') return null
    if (w === 'undefined') return undefined
    if (w === 'Infinity') return Infinity
    if (w === 'NaN') return NaN
    i -= w.length; return fail('a value')
  }
  const num = () => {
    const m = /^-?(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)/.exec(t.slice(i))
    if (!m) return fail('a number')
    i += m[0].length
    return Number(m[0])
  }
  const r = val(); ws()
  if (i < t.length) fail('EOF')
  return r
}

/**
 * @typedef {object} DeviceOptions
 * @property {string} [firmware] bundle path (default dist/firmware.js), re-read at every boot
 * @property {string} [source] bundle text instead of a file
 * @property {string} storageDir folder holding the Storage files (one file per name)
 * @property {number} [timeScale] divides every timer delay, the watchdog and Wi-Fi delays (default 1)
 * @property {{ssid: string, password: string}} [wifi] the simulated access point
 * @property {(line: string) => void} [out] the device's console output, line by line
 * @property {(line: string) => void} [log] simulator events (Wi-Fi, sockets, resets)
 * @property {boolean | number} [rechunk] split received data at random: true = pieces of 1..64 bytes, n = 1..n
 * @property {number} [wifiDelay] ms (device time) a Wi-Fi connect takes (default 1500)
 * @property {boolean} [es2015Only] remove what Espruino lacks from the context (default true)
 */

/**
 * Creates and boots a simulated ESP32 running the firmware bundle.
 * @param {DeviceOptions} opts
 */
export function createDevice (opts) {
  if (!opts || typeof opts.storageDir !== 'string') throw new Error('simulator: storageDir is required')
  const timeScale = opts.timeScale === undefined ? 1 : opts.timeScale
  if (!(timeScale > 0)) throw new Error('simulator: timeScale must be > 0')
  const storageDir = path.resolve(opts.storageDir)
  fs.mkdirSync(storageDir, { recursive: true })
  const ap = { ssid: 'SimAP', password: 'sim-password', ...(opts.wifi || {}) }
  const events = new EventEmitter()
  const out = (/** @type {string} */ text) => {
    for (const line of String(text).split('\n')) {
      events.emit('out', line)
      if (opts.out) opts.out(line)
    }
  }
  const log = (/** @type {string} */ line) => {
    events.emit('log', line)
    if (opts.log) opts.log(line)
  }
  const dns = new Map([['localhost', '127.0.0.1']])

  // Per-boot state; `gen` guards every host callback so nothing from an old boot reaches a new one.
  let gen = 0
  let closed = false
  let boots = 0
  /** @type {any} */ let ctx = null
  /** @type {any} */ let C = null
  /** @type {Map<number, {h: any, repeat: boolean, run: () => void}>} */ const timers = new Map()
  /** @type {Set<any>} */ const sockets = new Set()
  /** @type {Set<net.Socket>} */ const orphans = new Set()
  let clockOffset = 0
  const wifi = { up: true, state: 'off', attempt: 0, hostname: 'espruino', timer: /** @type {any} */ (null) }
  const wd = { period: 0, auto: true, last: 0, timer: /** @type {any} */ (null) }
  let srcLength = 0

  const devNow = () => hostNow() + clockOffset
  /** An Error of the device's realm (`instanceof Error` holds inside the firmware). */
  const err = (/** @type {string} */ msg, type = 'Error') => {
    const e = new C.Error(msg)
    if (type !== 'Error') e.name = type
    return e
  }
  /** Runs device code from a host callback the way Espruino's idle loop does. */
  function call (/** @type {number} */ g, /** @type {Function} */ fn, /** @type {any} */ self, /** @type {any[]} */ args) {
    if (g !== gen || closed) return undefined
    try {
      return fn.apply(self, args)
    } catch (e) {
      out(uncaught(e))
      return undefined
    }
  }
  /** Fires listeners stored Espruino-style in `#on<event>`. */
  function fire (/** @type {any} */ obj, /** @type {string} */ ev, /** @type {any[]} */ args) {
    const g = gen
    const l = obj['#on' + ev]
    if (!l) return
    const list = typeof l === 'function' ? [l] : Array.from(l)
    for (const f of list) if (typeof f === 'function') call(g, f, obj, args)
  }
  /** Proxy that makes a missing member fail loudly, naming it. */
  function stand (/** @type {string} */ name, /** @type {any} */ obj) {
    return new Proxy(obj, {
      get (t, p, r) {
        if (typeof p === 'symbol' || p in t || p === 'toJSON' || p === 'then' || p === 'inspect' || p.startsWith('#on')) return Reflect.get(t, p, r)
        throw err('simulator: ' + name + '.' + p + ' is not provided by the stand-in')
      }
    })
  }
  /** Byte values of a string / ArrayBuffer / view / array, as Espruino converts them. */
  function bytesOf (/** @type {any} */ d, /** @type {string} */ what) {
    if (typeof d === 'string') {
      for (let i = 0; i < d.length; i++) {
        if (d.charCodeAt(i) > 255) throw err(what + ': character > 255 at ' + i + ' (not a byte string)')
      }
      return Buffer.from(d, 'latin1')
    }
    if (ArrayBuffer.isView(d)) return Buffer.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
    if (Object.prototype.toString.call(d) === '[object ArrayBuffer]') return Buffer.from(new Uint8Array(d))
    if (Array.isArray(d)) return Buffer.from(d.map(x => x & 255))
    if (typeof d === 'number') return Buffer.from([d & 255])
    throw err(what + ': cannot convert ' + typeof d + ' to bytes')
  }
  /** E.toString-style flattening of arguments to byte values. */
  function flatten (/** @type {any[]} */ args) {
    /** @type {number[]} */ const r = []
    const add = (/** @type {any} */ a) => {
      if (typeof a === 'number') r.push(a & 255)
      else if (typeof a === 'string') { for (let i = 0; i < a.length; i++) r.push(a.charCodeAt(i) & 255) }
      else if (Array.isArray(a)) a.forEach(add)
      else if (a && typeof a === 'object' && 'data' in a && 'count' in a) { for (let i = 0; i < a.count; i++) add(a.data) }
      else if (a && typeof a === 'object') { for (const b of bytesOf(a, 'E.toString')) r.push(b) }
    }
    args.forEach(add)
    return r
  }
  const toAB = (/** @type {Uint8Array | number[]} */ b) => { const u = new C.Uint8Array(b.length); u.set(b); return u.buffer }
  const toCtx = (/** @type {any} */ v) => C.JSON.parse(JSON.stringify(v))

  // ---- timers --------------------------------------------------------------------------
  function addTimer (/** @type {any} */ fn, /** @type {any} */ ms, /** @type {any[]} */ args, /** @type {boolean} */ repeat) {
    if (typeof fn !== 'function' && typeof fn !== 'string') throw err('Function or String not supplied!')
    let id = 1
    for (const k of timers.keys()) if (k >= id) id = k + 1
    const g = gen
    const run = () => {
      if (!repeat) timers.delete(id)
      if (typeof fn === 'string') call(g, () => vm.runInContext(fn, ctx), undefined, [])
      else call(g, fn, undefined, args)
    }
    const d = Math.max(0, (Number(ms) || 0) / timeScale)
    timers.set(id, { h: repeat ? setInterval(run, Math.max(1, d)) : setTimeout(run, d), repeat, run })
    return id
  }
  function clearTimer (/** @type {IArguments} */ a, /** @type {string} */ name) {
    if (a.length === 0) {
      for (const t of timers.values()) clearTimeout(t.h)
      timers.clear()
      return
    }
    if (a[0] === undefined) throw err('clear' + name + '(undefined) not allowed. Use clear' + name + '() instead')
    const id = Number(a[0])
    const t = timers.get(id)
    if (t) { clearTimeout(t.h); timers.delete(id) }
  }
  function dropTimers () {
    for (const t of timers.values()) clearTimeout(t.h)
    timers.clear()
  }

  // ---- net -----------------------------------------------------------------------------
  function resolve (/** @type {string} */ host) {
    if (net.isIP(host)) return host
    if (dns.has(host)) return dns.get(host)
    let ip = ''
    try {
      ip = execFileSync(process.execPath, ['-e', 'require("dns").lookup(process.argv[1],{family:4},(e,a)=>{process.stdout.write(e?"":a)})', host], { timeout: 10000, encoding: 'utf8' }).trim()
    } catch { ip = '' }
    if (!ip) return ''
    dns.set(host, ip)
    return ip
  }
  function connect (/** @type {any} */ o, /** @type {any} */ cb) {
    if (!o || typeof o !== 'object') throw err('simulator: net.connect needs {host, port}')
    const host = o.host === undefined ? '127.0.0.1' : String(o.host)
    const port = Number(o.port)
    if (wifi.state !== 'connected') throw err('Unable to create socket', 'InternalError')
    const ip = resolve(host)
    if (!ip) throw err('Unable to locate host', 'InternalError')
    const g = gen
    const sock = new C.Object()
    const st = { ended: false, closed: false, error: /** @type {any} */ (null) }
    const ns = net.connect({ host: ip, port })
    ns.setNoDelay(true)
    const entry = { ns, kill }
    sockets.add(entry)
    log('net: connect ' + host + ':' + port)
    function finish (/** @type {boolean} */ hadError) {
      if (st.closed) return
      st.closed = true
      sockets.delete(entry)
      if (g !== gen) return
      if (hadError && st.error) fire(sock, 'error', [toCtx(st.error)])
      fire(sock, 'end', [])
      fire(sock, 'close', [hadError])
    }
    function kill () {
      // The device's side is gone; the TCP link is left for the broker to time out.
      sockets.delete(entry)
      ns.removeAllListeners('data')
      ns.on('data', () => {})
      orphans.add(ns)
      ns.on('close', () => orphans.delete(ns))
      setImmediate(() => finish(false))
    }
    ns.on('connect', () => {
      if (st.closed || g !== gen) return
      log('net: open ' + host + ':' + port)
      fire(sock, 'connect', [proxy])
    })
    ns.on('data', (/** @type {Buffer} */ b) => {
      if (st.closed || g !== gen) return
      const s = b.toString('latin1')
      if (!opts.rechunk) return fire(sock, 'data', [s])
      const max = opts.rechunk === true ? 64 : opts.rechunk
      for (let i = 0; i < s.length && !st.closed;) {
        const n = 1 + Math.floor(Math.random() * max)
        fire(sock, 'data', [s.slice(i, i + n)])
        i += n
      }
    })
    ns.on('error', (/** @type {any} */ e) => {
      st.error = { code: e.code === 'ECONNRESET' ? -9 : e.code === 'ECONNREFUSED' ? -11 : -10, message: e.code === 'ECONNRESET' ? 'connection reset' : e.code === 'ECONNREFUSED' ? 'connection refused' : 'unknown' }
      log('net: error ' + host + ':' + port + ' ' + e.code)
    })
    ns.on('close', () => { log('net: closed ' + host + ':' + port); finish(!!st.error) })
    Object.assign(sock, {
      write (/** @type {any} */ d) {
        if (st.ended || st.closed) throw err('This socket is closed')
        // Espruino converts a non-string with jsvAsString: arrays and typed arrays become "1,2,3".
        let s
        if (typeof d === 'string') s = d
        else if (ArrayBuffer.isView(d) || Object.prototype.toString.call(d) === '[object ArrayBuffer]') s = Array.prototype.join.call(ArrayBuffer.isView(d) ? d : new Uint8Array(d), ',')
        else if (Array.isArray(d)) s = d.join(',')
        else s = String(d)
        ns.write(bytesOf(s, 'socket.write'))
      },
      end (/** @type {any} */ d) {
        if (st.ended || st.closed) return
        if (d !== undefined) sock.write(d)
        st.ended = true
        ns.end()
      }
    })
    const proxy = stand('socket', sock)
    if (typeof cb === 'function') sock.on('connect', cb)
    return proxy
  }
  function killSockets () {
    for (const s of [...sockets]) s.kill()
  }

  // ---- Wi-Fi ---------------------------------------------------------------------------
  let Wifi = /** @type {any} */ (null)
  function wifiDrop (/** @type {string} */ reason, /** @type {string} */ msg) {
    const was = wifi.state === 'connected'
    wifi.state = 'off'
    killSockets()
    if (was) {
      log('wifi: disconnected (' + msg + ')')
      const g = gen
      setImmediate(() => { if (g === gen) fire(Wifi, 'disconnected', [toCtx({ ssid: ap.ssid, mac: MAC, reason, msg })]) })
    }
  }
  function wifiConnect (/** @type {any} */ ssid, /** @type {any} */ o, /** @type {any} */ cb) {
    if (typeof o === 'function') { cb = o; o = {} }
    const pass = o && o.password !== undefined ? String(o.password) : ''
    if (wifi.state === 'connected') wifiDrop('8', 'ASSOC_LEAVE')
    const n = ++wifi.attempt
    const g = gen
    wifi.state = 'connecting'
    log('wifi: connecting to ' + JSON.stringify(String(ssid)))
    clearTimeout(wifi.timer)
    wifi.timer = setTimeout(() => {
      if (g !== gen || n !== wifi.attempt) return
      const bad = !wifi.up || String(ssid) !== ap.ssid ? ['201', 'NO_AP_FOUND', 'no_ap_found'] : pass !== ap.password ? ['202', 'AUTH_FAIL', 'wrong_password'] : null
      if (bad) {
        wifi.state = bad[2]
        log('wifi: ' + bad[1])
        fire(Wifi, 'disconnected', [toCtx({ ssid: String(ssid), mac: MAC, reason: bad[0], msg: bad[1] })])
        if (typeof cb === 'function') call(g, cb, Wifi, [bad[1]])
        return
      }
      wifi.state = 'connected'
      log('wifi: connected, ip ' + IP.ip)
      fire(Wifi, 'associated', [toCtx({ ssid: ap.ssid, mac: MAC, channel: '6' })])
      if (typeof cb === 'function') call(g, cb, Wifi, [null])
      fire(Wifi, 'connected', [toCtx(IP)])
    }, (opts.wifiDelay === undefined ? 1500 : opts.wifiDelay) / timeScale)
  }

  // ---- Storage -------------------------------------------------------------------------
  const sname = (/** @type {any} */ n) => {
    const s = String(n)
    if (!s.length) throw err('Invalid Storage name')
    return s.slice(0, 28) // Espruino truncates silently
  }
  const sfile = (/** @type {any} */ n) => path.join(storageDir, hostName(sname(n)))
  const sread = (/** @type {any} */ n) => { try { return fs.readFileSync(sfile(n)) } catch { return undefined } }
  const slist = () => fs.readdirSync(storageDir).filter(f => !f.startsWith('.tmp-')).map(deviceName)
  const swrite = (/** @type {any} */ n, /** @type {Buffer} */ b) => {
    const f = sfile(n); const tmp = path.join(storageDir, '.tmp-' + process.pid)
    fs.writeFileSync(tmp, b); fs.renameSync(tmp, f)
  }
  const used = () => slist().reduce((a, n) => a + (sread(n) || Buffer.alloc(0)).length + 32, 0)
  const Storage = {
    read (/** @type {any} */ n, /** @type {any} */ off, /** @type {any} */ len) {
      const b = sread(n)
      if (!b) return undefined
      const o = off || 0
      return b.subarray(o, len === undefined ? b.length : o + len).toString('latin1')
    },
    readArrayBuffer (/** @type {any} */ n) { const b = sread(n); return b ? toAB(b) : undefined },
    readJSON (/** @type {any} */ n, /** @type {any} */ noExceptions) {
      const b = sread(n)
      if (!b) return undefined
      try { return toCtxDeep(parseLiberal(b.toString('latin1'))) } catch (e) {
        if (noExceptions) return undefined
        throw err(/** @type {Error} */ (e).message, 'SyntaxError')
      }
    },
    write (/** @type {any} */ n, /** @type {any} */ data, /** @type {any} */ off, /** @type {any} */ size) {
      const d = bytesOf(data === undefined ? '' : data, 'Storage.write')
      if (size !== undefined) {
        const b = Buffer.alloc(size, 0xff); d.copy(b, off || 0); swrite(n, b)
      } else if (off) {
        const b = sread(n)
        if (!b) throw err("simulator: Storage.write with an offset needs a file created with a size")
        d.copy(b, off); swrite(n, b)
      } else swrite(n, d)
      return true
    },
    writeJSON (/** @type {any} */ n, /** @type {any} */ v) {
      const j = espruinoJSON(v)
      swrite(n, bytesOf(j === undefined ? '' : j, 'Storage.writeJSON'))
      return true
    },
    erase (/** @type {any} */ n) { try { fs.unlinkSync(sfile(n)) } catch { } },
    eraseAll () { for (const n of slist()) Storage.erase(n) },
    list (/** @type {any} */ re) {
      let names = slist().sort()
      if (re !== undefined) {
        const r = typeof re === 'string' ? new RegExp(re) : re
        names = names.filter(x => r.test(x))
      }
      return toCtx(names)
    },
    compact () { },
    getFree () { return FLASH_BYTES - used() },
    getStats () {
      const u = used()
      return toCtx({ totalBytes: FLASH_BYTES, freeBytes: FLASH_BYTES - u, fileBytes: u, fileCount: slist().length, trashBytes: 0, trashCount: 0 })
    }
  }
  const toCtxDeep = (/** @type {any} */ v) => {
    if (v === undefined) return undefined
    // JSON round trip into the device realm; keeps undefined-free, finite data as Espruino would.
    return C.JSON.parse(JSON.stringify(v))
  }

  // ---- watchdog ------------------------------------------------------------------------
  function watchdogArm () {
    clearInterval(wd.timer)
    if (!wd.period) return
    const realMs = wd.period * 1000 / timeScale
    wd.timer = setInterval(() => {
      if (closed || wd.auto) return
      if (hostNow() - wd.last > realMs) {
        out('simulator: watchdog reset (not kicked for ' + wd.period + ' s)')
        reboot('watchdog reset')
      }
    }, Math.max(5, realMs / 8))
  }

  // ---- boot ----------------------------------------------------------------------------
  function makeContext () {
    ctx = vm.createContext({})
    C = vm.runInContext('({Error, Object, Array, JSON, Uint8Array, ArrayBuffer})', ctx)
    const host = {
      now: devNow,
      emit: (/** @type {any} */ o, /** @type {any} */ e, /** @type {any[]} */ a) => {
        const g = gen
        setImmediate(() => { if (g === gen) fire(o, e, a) })
      }
    }
    vm.runInContext(`(function (host) {
      'use strict';
      var construct = Reflect.construct, RealDate = Date, now = host.now;
      function D() {
        if (!new.target) return new RealDate(now()).toString();
        return construct(RealDate, arguments.length ? Array.prototype.slice.call(arguments) : [now()], new.target);
      }
      D.prototype = RealDate.prototype; D.now = now; D.parse = RealDate.parse; D.UTC = RealDate.UTC;
      Object.defineProperty(RealDate.prototype, 'constructor', { value: D, writable: true, configurable: true });
      globalThis.Date = D;
      // Espruino: every object is an event emitter; listeners are visible '#on<event>' properties.
      function def(n, f) { Object.defineProperty(Object.prototype, n, { value: f, writable: true, configurable: true }); }
      function on(e, f) {
        var k = '#on' + e, c = this[k];
        if (!c) this[k] = f; else if (typeof c === 'function') this[k] = [c, f]; else c.push(f);
        return this;
      }
      def('on', on); def('addListener', on);
      def('emit', function (e) { host.emit(this, e, Array.prototype.slice.call(arguments, 1)); });
      def('removeListener', function (e, f) {
        var k = '#on' + e, c = this[k];
        if (c === f) delete this[k];
        else if (Array.isArray(c)) { var i = c.indexOf(f); if (i >= 0) c.splice(i, 1); }
      });
      def('removeAllListeners', function (e) {
        if (e === undefined) { for (var k in this) if (k.indexOf('#on') === 0) delete this[k]; }
        else delete this['#on' + e];
      });
    })`, ctx)(host)
    if (opts.es2015Only !== false) {
      vm.runInContext(`(function () {
        ['Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Proxy', 'Reflect', 'WeakRef', 'FinalizationRegistry'].forEach(function (n) { delete globalThis[n]; });
        delete Array.from; delete Object.getPrototypeOf(Uint8Array).from; delete Number.isInteger;
        delete Math.trunc; delete Math.imul; delete Object.freeze;
        delete ArrayBuffer.prototype.slice; delete Promise.prototype.finally;
      })()`, ctx)
    }
    const g = vm.runInContext('globalThis', ctx)
    const mk = (/** @type {string} */ name, /** @type {any} */ members) => stand(name, Object.assign(new C.Object(), members))

    const E = mk('E', {
      toString: (/** @type {any[]} */ ...a) => String.fromCharCode(...flatten(a)),
      toUint8Array: (/** @type {any[]} */ ...a) => new C.Uint8Array(flatten(a)),
      toArrayBuffer: (/** @type {any} */ s) => toAB(bytesOf(s, 'E.toArrayBuffer')),
      enableWatchdog (/** @type {any} */ t, /** @type {any} */ isAuto) {
        wd.period = Math.max(1, Math.round(Number(t) || 1)) // ESP32 rounds to whole seconds
        wd.auto = isAuto === undefined ? true : !!isAuto
        wd.last = hostNow()
        log('watchdog: ' + wd.period + ' s, ' + (wd.auto ? 'auto' : 'manual') + ' kick')
        watchdogArm()
      },
      kickWatchdog () { wd.last = hostNow() },
      getTemperature: () => 40 + Math.random() * 5,
      getErrorFlags: () => new C.Array(),
      hwRand: () => crypto.randomBytes(4).readInt32LE(0),
      getSizeOf: (/** @type {any} */ v) => Math.ceil((espruinoJSON(v) || '').length / 12) + 1,
      reboot () {
        out('simulator: E.reboot()')
        setImmediate(() => reboot('E.reboot()'))
      }
    })
    const hash = (/** @type {string} */ alg) => (/** @type {any} */ d) => toAB(crypto.createHash(alg).update(bytesOf(d, 'crypto.' + alg)).digest())
    const modules = {
      net: mk('net', { connect }),
      crypto: mk('crypto', { SHA1: hash('sha1'), SHA224: hash('sha224'), SHA256: hash('sha256'), SHA384: hash('sha384'), SHA512: hash('sha512') }),
      Storage: mk('Storage', Storage),
      Wifi: (Wifi = mk('Wifi', {
        connect: wifiConnect,
        disconnect (/** @type {any} */ cb) {
          wifi.attempt++
          wifiDrop('8', 'ASSOC_LEAVE')
          if (typeof cb === 'function') { const gg = gen; setImmediate(() => call(gg, cb, Wifi, [])) }
        },
        getIP (/** @type {any} */ cb) {
          const r = toCtx(wifi.state === 'connected' ? { ...IP, mac: MAC } : { ip: '0.0.0.0', netmask: '0.0.0.0', gw: '0.0.0.0', mac: MAC })
          if (typeof cb === 'function') { const gg = gen; setImmediate(() => call(gg, cb, Wifi, [r])) }
          return r
        },
        getStatus (/** @type {any} */ cb) {
          const r = toCtx({ mode: 'STA', station: wifi.state, ap: 'disabled', phy: '11n', powersave: 'none', savedMode: 'off' })
          if (typeof cb === 'function') { const gg = gen; setImmediate(() => call(gg, cb, Wifi, [r])) }
          return r
        },
        setHostname (/** @type {any} */ h, /** @type {any} */ cb) {
          wifi.hostname = String(h)
          if (typeof cb === 'function') { const gg = gen; setImmediate(() => call(gg, cb, Wifi, [])) }
        },
        getHostname (/** @type {any} */ cb) {
          if (typeof cb === 'function') { const gg = gen; setImmediate(() => call(gg, cb, Wifi, [wifi.hostname])) }
          return wifi.hostname
        }
      })),
      TelnetServer: mk('TelnetServer', {
        setOptions (/** @type {any} */ o) { log('telnet: ' + (o && o.mode)) }
      })
    }
    const print = (/** @type {any[]} */ ...a) => out(a.map(x => format(x)).join(' '))
    Object.assign(g, {
      global: g,
      E,
      console: stand('console', Object.assign(new C.Object(), { log: print, info: print, warn: print, error: print, debug: print })),
      print,
      require (/** @type {any} */ name) {
        if (Object.prototype.hasOwnProperty.call(modules, name)) return /** @type {any} */ (modules)[name]
        throw err('simulator: require("' + name + '") is not provided by the stand-in')
      },
      setTimeout: (/** @type {any} */ f, /** @type {any} */ ms, /** @type {any[]} */ ...a) => addTimer(f, ms, a, false),
      setInterval: (/** @type {any} */ f, /** @type {any} */ ms, /** @type {any[]} */ ...a) => addTimer(f, ms, a, true),
      clearTimeout: function () { clearTimer(arguments, 'Timeout') },
      clearInterval: function () { clearTimer(arguments, 'Interval') },
      changeInterval (/** @type {any} */ id, /** @type {any} */ ms) {
        const t = timers.get(Number(id))
        if (!t || !t.repeat) throw err('Unknown Interval')
        // Re-create the interval with the new period, keeping its id.
        clearInterval(t.h)
        t.h = setInterval(t.run, Math.max(1, (Number(ms) || 0) / timeScale))
      },
      getTime: () => devNow() / 1000,
      setTime (/** @type {any} */ s) {
        clockOffset = Number(s) * 1000 - hostNow()
        log('clock: setTime(' + s + ')')
      },
      process: stand('process', Object.assign(new C.Object(), {
        env: toCtx({ VERSION: '2v29', BOARD: 'ESP32', GIT_COMMIT: 'simulator', CONSOLE: 'Serial1', MODULES: 'net,crypto,Storage,Wifi,TelnetServer' }),
        version: '2v29',
        memory () {
          const usage = Math.ceil(srcLength / 12) + 600
          return toCtx({ free: JSVARS_TOTAL - usage, usage, total: JSVARS_TOTAL, history: 0, gc: 0, gctime: 0, blocksize: 14 })
        }
      }))
    })
    return { E }
  }

  function boot () {
    gen++
    boots++
    const { E } = makeContext()
    const src = opts.source !== undefined ? opts.source : fs.readFileSync(opts.firmware || 'dist/firmware.js', 'latin1')
    srcLength = src.length
    log('boot #' + boots)
    const g = gen
    call(g, () => vm.runInContext(src, ctx, { filename: opts.firmware || 'firmware.js' }), undefined, [])
    events.emit('boot', boots)
    setImmediate(() => { if (g === gen) fire(/** @type {any} */ (E), 'init', []) })
  }

  /** Power-cycles the device: same Storage, fresh interpreter, Wi-Fi down until the firmware connects. */
  function reboot (/** @type {string} */ reason) {
    if (closed) return
    log('reboot: ' + (reason || 'requested'))
    events.emit('reboot', { reason: reason || 'requested' })
    gen++
    dropTimers()
    killSockets()
    clearTimeout(wifi.timer)
    wifi.state = 'off'
    wifi.attempt++
    wd.period = 0
    clearInterval(wd.timer)
    clockOffset = 0
    boot()
  }

  boot()

  return {
    /** 'out' (console line), 'log' (simulator event line), 'reboot' ({reason}), 'boot' (count; boot #1 happens inside createDevice) */
    events,
    storageDir,
    storage: storageDir,
    /**
     * Runs a console line in the device, like typing it on the serial console.
     * Errors print "Uncaught ..." to out (and are rethrown with {throws: true}).
     * @param {string} code
     * @param {{throws?: boolean}} [o]
     */
    eval (code, o) {
      if (closed) throw new Error('simulator: device closed')
      try {
        return vm.runInContext(code, ctx, { filename: 'console' })
      } catch (e) {
        if (o && o.throws) throw e
        out(uncaught(e))
        return undefined
      }
    },
    /** The access point disappears: 'disconnected' fires, open sockets die. */
    wifiDown () { wifi.up = false; log('sim: access point down'); wifiDrop('200', 'BEACON_TIMEOUT') },
    /** The access point is back (the firmware must reconnect by itself). */
    wifiUp () { wifi.up = true; log('sim: access point up') },
    reboot: (/** @type {string} */ reason) => reboot(reason || 'reboot()'),
    get boots () { return boots },
    get wifiState () { return wifi.state },
    get context () { return ctx },
    timerCount: () => timers.size,
    close () {
      if (closed) return
      closed = true
      gen++
      dropTimers()
      killSockets()
      for (const s of sockets) s.ns.destroy()
      for (const s of orphans) s.destroy()
      orphans.clear()
      clearTimeout(wifi.timer)
      clearInterval(wd.timer)
      events.removeAllListeners()
    }
  }
}
