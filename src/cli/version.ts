// Finds this program's version in the package.json above it, from out/src/cli/ as well as from the dist/ bundle.
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'p2p-share';

export function findPackageVersion(startDir: string): string {
  let dir = startDir;
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No (readable) package.json here: keep climbing.
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
