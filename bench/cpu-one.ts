// `BENCH_CALLGRIND=1 npx tsx bench/cpu-one.ts <bundle> [32|64]`: the instructions per post of
// one bundle on one build (callgrind; repeatable), for an A/B of a change in a minute.
import { builds, measureRam } from "./ram";

const file = process.argv[2] || "dist/firmware.js",
  only = process.argv[3];
for (const [name, path] of Object.entries(builds())) {
  if (only && !name.startsWith(only)) continue;
  const figures = await measureRam(path, file, "storage");
  // (no JsVar figures: under valgrind they are not comparable with bench/ram.ts's)
  console.log(name, file, "instructions per post:", figures.instructionsPerPost, figures.error || "");
}
