// Bundles the extension, the index server and the terminal peer into dist/ with esbuild.
const esbuild = require('esbuild');
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
Promise.all([
  esbuild.build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] }),
  // lmdb is native, redis and prom-client large: the server loads them only for --data / --store / --admin, from node_modules.
  esbuild.build({ ...common, entryPoints: ['src/server/main.ts'], outfile: 'dist/index-server.js', banner: { js: '#!/usr/bin/env node' }, external: ['lmdb', 'redis', 'prom-client'] }),
  esbuild.build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/peer-cli.js', banner: { js: '#!/usr/bin/env node' } }),
]).catch(() => process.exit(1));
