// This program's version from the package.json above the running code, found from out/src/... as well as from the dist/ bundle.
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'p2p-share';

/** The version of the p2p-share package.json nearest above `startDir`; "unknown" when there is none. */
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

/** The version of the package this code runs from. */
export function packageVersion(): string {
  return findPackageVersion(__dirname);
}
