import { readFileSync } from 'node:fs';
const prof = JSON.parse(readFileSync(process.argv[2]));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas; let total = 0;
prof.samples.forEach((id, i) => { const n = byId.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, 'nm/').replace(/.*\/work\/main\//, '')}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + dt[i]); total += dt[i]; });
const byFile = new Map();
for (const [k, v] of self) { const f = k.split(' ')[1].split(':')[0].replace(/^nm\/([^/]+(\/[^/]+)?).*/, 'nm/$1'); byFile.set(f, (byFile.get(f) ?? 0) + v); }
const pct = (v) => (100 * v / total).toFixed(1).padStart(5) + '%';
console.log('--- self by function');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(pct(v), k);
console.log('--- by file/package');
for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(pct(v), k);
