// Bundles the CLI: start-up is dominated by module loading, and one bundle with lazily loaded
// chunks (the client library is only loaded by commands that talk to a cluster) starts several times faster.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

// Chunk names carry content hashes: without a clean start, stale chunks from earlier builds pile up in dist/.
rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });

await build({
  entryPoints: { cli: 'src/cli.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: 'dist',
  // Flat: src/paths.ts finds crds/ one level up from whichever chunk it lands in.
  chunkNames: '[name]-[hash]',
  sourcemap: 'linked',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'linked',
  define: { __VERSION__: JSON.stringify(version) },
  // Some bundled CommonJS dependencies call require() for Node built-ins.
  banner: { js: "import { createRequire as __mwCreateRequire } from 'node:module'; const require = __mwCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
