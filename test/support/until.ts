// Polls f every 20 ms until it returns something truthy; rejects naming `what` after ms.
// (The e2e tests wait on emulator events and device state this way.)
export async function until(what: string, f: () => any, ms = 30000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("timed out waiting for " + what);
}
