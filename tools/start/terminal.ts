// The terminal side of `npm start`: output lines that do not garble the prompt, and a prompt
// that feeds each line to the simulated device's console like the Espruino REPL ("=result" or
// the device's "Uncaught ..." line).
import readline from 'node:readline'
import { format } from '../simulator/index'
import { HANDLED } from './cloud-commands'

export function createTerminal (tty: boolean) {
  let rl: readline.Interface | null = null

  /** Prints a line above the prompt. */
  function print (line: string) {
    if (rl && tty) { readline.clearLine(process.stdout, 0); readline.cursorTo(process.stdout, 0) }
    process.stdout.write(line + '\n')
    if (rl && tty) rl.prompt(true)
  }

  /**
   * Starts reading console lines from stdin.
   * @param evaluate runs a line in the device (throws what the device throws)
   * @param quit called on .exit, quit(), end of input or Ctrl-C
   */
  function prompt (evaluate: (line: string) => any, quit: () => void) {
    const r = rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: '> ', terminal: tty })
    r.on('line', line => {
      const l = line.trim()
      if (l === '.exit' || l === 'quit()') return quit()
      if (l) {
        let result; let ok = true
        try { result = evaluate(l) } catch (e) {
          ok = false
          const x = e as any
          print('[device] Uncaught ' + (x && x.message !== undefined ? (x.name || 'Error') + ': ' + x.message : format(x, true)))
        }
        if (ok && result !== HANDLED) print('=' + format(result, true))
      }
      if (rl && tty) rl.prompt()
    })
    r.on('close', quit)
    r.on('SIGINT', quit)
    if (tty) r.prompt()
  }

  function close () {
    if (rl) rl.close()
  }

  return { print, prompt, close }
}
