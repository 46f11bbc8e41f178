// Device globals that @types/espruino does not declare (it targets the IDE, not a
// TypeScript build). Only what the firmware uses; shapes follow Espruino 2v29.
declare const console: { log(...args: any[]): void };
declare function setTimeout(fn: () => void, ms: number): any;
declare function setInterval(fn: () => void, ms: number): any;
declare function clearInterval(id: any): void;
declare function require(name: string): any;
declare const process: {
  env: { [k: string]: any };
  memory(): { free: number; usage: number; total: number; blocksize: number };
};
declare const VERSION: string;
