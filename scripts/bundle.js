// Bundles the extension, the index server and the terminal peer into dist/ with esbuild.
const esbuild = require('esbuild');
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
/**
 * @peculiar/x509 with reflect-metadata is about two thirds of the extension's bundle, and only the first
 * certificate needs it (src/peer/tls-identity.ts requires both there). In a file of its own, VS Code does
 * not read and compile it when the extension activates; both requires load that one file.
 */
const X509_FILE = 'x509.js';
const x509Apart = {
  name: 'x509-apart',
  setup(build) {
    build.onResolve({ filter: /^(@peculiar\/x509|reflect-metadata)$/ }, () => ({ path: `./${X509_FILE}`, external: true }));
  },
};
Promise.all([
  esbuild.build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'], plugins: [x509Apart] }),
  esbuild.build({
    ...common,
    stdin: { contents: "require('reflect-metadata');\nmodule.exports = require('@peculiar/x509');\n", resolveDir: __dirname, loader: 'js', sourcefile: 'x509-entry.js' },
    outfile: `dist/${X509_FILE}`,
  }),
  // lmdb is native, redis and prom-client large: the server loads them only for --data / --store / --admin, from node_modules.
  esbuild.build({ ...common, entryPoints: ['src/server/main.ts'], outfile: 'dist/index-server.js', banner: { js: '#!/usr/bin/env node' }, external: ['lmdb', 'redis', 'prom-client'] }),
  esbuild.build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/peer-cli.js', banner: { js: '#!/usr/bin/env node' } }),
]).catch(() => process.exit(1));
