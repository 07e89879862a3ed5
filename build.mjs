// Bundles the CLI: start-up is dominated by module loading, and one bundle with lazily loaded
// chunks (the client library is only loaded by commands that talk to a cluster) starts several times faster.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/**
 * Loading the client library is most of the start-up of every command that talks to a cluster. Its modules
 * have no import-time side effects (none is imported for effect alone), so they may be tree-shaken: only
 * KubeConfig and what it reaches stay, not the generated API client. KubeConfig takes `Headers` from
 * node-fetch for `applyToFetchOptions` alone, which member-watch never calls (src/kube/http.ts uses
 * node:https); Node's own `Headers` stands in, so node-fetch and its Unicode tables (about 300 KB) stay out.
 */
const slimClientLibrary = {
  name: 'slim-client-library',
  setup(build) {
    build.onResolve({ filter: /^node-fetch$/ }, () => ({ path: 'node-fetch', namespace: 'node-fetch-shim' }));
    build.onLoad({ filter: /.*/, namespace: 'node-fetch-shim' }, () => ({
      // Wrappers, not the globals themselves: reading globalThis.fetch or Headers loads Node's fetch (undici), 25 ms.
      contents:
        'export function Headers(init) { return new globalThis.Headers(init); }\n' +
        'export default function fetch(...args) { return globalThis.fetch(...args); }',
      loader: 'js',
    }));
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'resolving' || !args.importer.includes('@kubernetes/client-node')) return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolving' });
      return resolved.path.includes('@kubernetes/client-node') ? { ...resolved, sideEffects: false } : undefined;
    });
  },
};

// Chunk names carry content hashes: without a clean start, stale chunks from earlier builds pile up in dist/.
rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });

const result = await build({
  entryPoints: { cli: 'src/cli.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: 'dist',
  // Flat: src/paths.ts finds crds/ one level up from whichever chunk it lands in.
  chunkNames: '[name]-[hash]',
  // No source maps: they would double the package, and a user's stack trace (--debug) is read without them.
  sourcemap: false,
  minifySyntax: true,
  minifyWhitespace: true,
  // The licences travel whole in THIRD-PARTY-NOTICES (below), not as comments scattered through the chunks.
  legalComments: 'none',
  metafile: true,
  define: { __VERSION__: JSON.stringify(version) },
  // Some bundled CommonJS dependencies call require() for Node built-ins.
  banner: { js: "import { createRequire as __mwCreateRequire } from 'node:module'; const require = __mwCreateRequire(import.meta.url);" },
  plugins: [slimClientLibrary],
  logLevel: 'warning',
});

writeFileSync(new URL('./dist/THIRD-PARTY-NOTICES.txt', import.meta.url), thirdPartyNotices(result.metafile));

/**
 * The bundle carries code of other packages, and their licences ask that their notices travel with it: every
 * package that put at least one byte into dist/, with its version, licence and licence file.
 */
function thirdPartyNotices(metafile) {
  const packages = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      // The innermost package: node_modules/debug/node_modules/supports-color is supports-color, debug's own copy.
      const dir = /^.*node_modules\/(?:@[^/]+\/)?[^/]+/.exec(input);
      if (bytesInOutput > 0 && dir) packages.add(dir[0]);
    }
  }
  const sections = [...packages].sort().map((dir) => {
    const { name, version, license } = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
    // Apache-2.0 asks for a NOTICE file to be passed on as well, where a package has one.
    const files = readdirSync(dir).filter((f) => /^(licen[cs]e|notice)(\.(md|txt))?$/i.test(f));
    const texts = files.map((f) => readFileSync(`${dir}/${f}`, 'utf8').trim());
    if (texts.length === 0) texts.push(`(the package ships no licence file; its package.json says ${license})`);
    return `${name}@${version} (${license})\n\n${texts.join('\n\n')}\n`;
  });
  const rule = `\n${'-'.repeat(78)}\n\n`;
  return `member-watch bundles code from these packages (dist/*.js); their licences follow.\n${rule}${sections.join(rule)}`;
}
