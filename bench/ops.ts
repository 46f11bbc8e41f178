// `ESPRUINO=<2v29 Linux build> npx tsx bench/ops.ts`: what one operation costs in the real
// interpreter (µs, both builds): the price list behind the firmware's hot-path style
// (docs/ESPRUINO.md §9). Each operation runs 10 times per loop turn, 2,000 turns; the empty
// loop and the assignment it is written in (`x = …`) are taken off. Wall time: ±10 % from
// run to run on a shared machine, enough to rank operations, not to compare close ones.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builds } from "./ram";

// [what, the expression (assigned to x), setup]
const OPERATIONS: [string, string][] = [
  ["a local number", "n"],
  ["a global found first among 100", "first"],
  ["a global found after 100 others", "last"],
  ["a built-in global (JSON: after every global)", "JSON"],
  ["an object's property", "o.a"],
  ["an array's element a[0]", "a[0]"],
  ["a string's char s[3]", "s[3]"],
  ["a string's .length", "s.length"],
  ["an array's .length", "a.length"],
  ["s.charCodeAt(3)", "s.charCodeAt(3)"],
  ["s.indexOf('z') on 20 chars", "s.indexOf('z')"],
  ["s.endsWith('hij')", "s.endsWith('hij')"],
  ["s.slice(2)", "s.slice(2)"],
  ["s + 'a'", "s+'a'"],
  ["String.fromCharCode, as a global alias", "chr(65)"],
  ["a call of an empty function", "f()"],
  ["typeof s", "typeof s"],
  ["an object literal {a, b}", "{a:1,b:s}"],
  ["JSON.stringify of 9 numbers", "JSON.stringify(o)"],
];

function script(): string {
  const lines = [
    "var first=1,i,t,x,N=2000,n=1,s='abcdefghijabcdefghij',a=[1,2,3],o={a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,k:9},chr=String.fromCharCode;",
    "for(i=0;i<100;i++)global['g'+i]=i;",
    "var last=1;function f(){}",
    "function run(e){var t=getTime();e();return getTime()-t}",
    "var base=run(function(){for(i=0;i<N;i++){x=n;x=n;x=n;x=n;x=n;x=n;x=n;x=n;x=n;x=n}});",
    "var out={};",
  ];
  for (const [name, expression] of OPERATIONS) {
    const body = Array(10).fill(`x=${expression};`).join("");
    lines.push(`out[${JSON.stringify(name)}]=(run(function(){for(i=0;i<N;i++){${body}}})-base)/N/10*1e6;`);
  }
  lines.push("console.log('OPS'+JSON.stringify(out));");
  return lines.join("\n");
}

const found = builds();
if (!Object.keys(found).length) {
  console.log("bench/ops.ts: set ESPRUINO to a 2v29 Linux build (README, Benchmarks)");
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), "ops-"));
const file = join(dir, "ops.js");
writeFileSync(file, script());
const table: Record<string, Record<string, string>> = {};
try {
  for (const [build, path] of Object.entries(found)) {
    const output = execFileSync(path, [file], { encoding: "latin1", timeout: 120000, input: "" });
    const line = /OPS(\{.*\})/.exec(output);
    if (!line) throw new Error(build + ": no figures in the interpreter's output");
    const figures = JSON.parse(line[1]);
    for (const [name, microseconds] of Object.entries(figures))
      (table[name] ||= {})[build + ", µs"] = (microseconds as number).toFixed(2);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log("one operation, net of the assignment it is in:");
console.table(table);
