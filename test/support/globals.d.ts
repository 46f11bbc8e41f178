// The build constant firmware/console.ts reads (rollup's intro declares it on the device;
// tests set it on globalThis).
declare const VERSION: string;
