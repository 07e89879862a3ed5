// The memory baseline: a bare node process that holds N {name, team} entries in a Map, as a watcher must.
// Usage: node bench/baseline-map.mjs N
const count = Number(process.argv[2] ?? '0');
const members = new Map();
for (let i = 0; i < count; i++) {
  const name = `member-${i}`;
  members.set(name, { name, team: `team-${i % 10}` });
}
if (members.size !== count) process.exitCode = 1;
