// The terminal side of `npm start`: output lines that do not garble the prompt (on a terminal,
// cut to its width: one event, one screen line), and a prompt that feeds each line to the
// simulated device's console like the Espruino REPL ("=result" or the device's "Uncaught ..."
// line), or to `command` when it is a prompt command (.set, help, ...).
import readline from "node:readline";
import { format } from "../simulator/index";

/** `line` cut to `width` characters with an ellipsis (0 = no limit). */
export function cutToWidth(line: string, width: number): string {
  return width > 1 && line.length > width ? line.slice(0, width - 1) + "…" : line;
}

export function createTerminal(tty: boolean) {
  let rl: readline.Interface | null = null;

  /** Prints lines above the prompt; on a terminal each is cut to its width. */
  function print(text: string) {
    if (rl && tty) {
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
    }
    const width = tty ? (process.stdout.columns || 80) - 1 : 0;
    for (const line of text.split("\n")) process.stdout.write(cutToWidth(line, width) + "\n");
    if (rl && tty) rl.prompt(true);
  }

  /**
   * Starts reading console lines from stdin.
   * @param evaluate runs a line in the device (throws what the device throws)
   * @param quit called on .exit, quit(), end of input or Ctrl-C
   * @param command handles prompt commands (see commands.ts)
   */
  function prompt(
    evaluate: (line: string) => any,
    quit: () => void,
    command?: { is: (line: string) => boolean; run: (line: string) => Promise<void> },
  ) {
    const r = (rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      prompt: "> ",
      terminal: tty,
    }));
    r.on("line", (line) => {
      const l = line.trim();
      if (l === ".exit" || l === "quit()") return quit();
      if (l && command?.is(l)) {
        command.run(l).then(() => {
          if (rl && tty) rl.prompt();
        });
        return;
      }
      if (l) {
        let result;
        let ok = true;
        try {
          result = evaluate(l);
        } catch (e) {
          ok = false;
          const x = e as any;
          print(
            "[device] Uncaught " +
              (x && x.message !== undefined ? (x.name || "Error") + ": " + x.message : format(x, true)),
          );
        }
        if (ok) print("=" + format(result, true));
      }
      if (rl && tty) rl.prompt();
    });
    r.on("close", quit);
    r.on("SIGINT", quit);
    if (tty) r.prompt();
  }

  function close() {
    if (rl) rl.close();
  }

  return { print, prompt, close };
}
