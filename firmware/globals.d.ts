// Espruino APIs that @types/espruino 1.95 lacks (firmware/espruino-env.d.ts has the rest).
declare namespace E {
  function enableWatchdog(timeout: number, isAuto: boolean): void;
  function toString(...args: any[]): string;
  function reboot(): void;
  function defrag(): void;
}
