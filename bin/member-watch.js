#!/usr/bin/env node
// Plain JavaScript that any Node can parse, so an old Node gets a clear message instead of a syntax error.
const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  process.stderr.write(`error: member-watch needs Node.js 20 or newer; this is ${process.version}\n`);
  process.exit(2);
}
// Run as kubectl's plugin (bin/kubectl-member_watch, or a link named like it), usage lines read `kubectl member-watch`.
const name = /(^|[/\\])kubectl-member_watch(\.[a-z]+)?$/i.test(process.argv[1] ?? '') ? 'kubectl member-watch' : 'member-watch';
import('../dist/cli.js').then(
  (cli) => cli.main(process.argv.slice(2), name),
  (err) => {
    const missing = err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js');
    process.stderr.write(missing ? 'error: member-watch is not built: run `npm run build`\n' : `error: ${err && err.stack}\n`);
    process.exitCode = 1;
  },
);
