// Lists the regular files under a folder for Share Folder, never following a symbolic link and never walking without bound.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { P2PError, toP2PError } from '../protocol/errors';
import { isValidContentName } from '../protocol/names';

export interface FolderFiles {
  /** Regular files to share, in a stable order, each with a content name no other one has. */
  files: string[];
  /** Links, sockets, devices and the like: left out. */
  skippedNotFiles: number;
  /** Files whose name is no valid content name, or whose name an earlier file already takes. */
  skippedNames: number;
}

export interface WalkLimits {
  /** More regular files than this refuses the whole folder. */
  maxFiles: number;
  /** Entries looked at in all, files or not: a folder of a million empty subfolders costs no more than this. */
  maxEntries: number;
  /** Folders deeper than this below the shared one are not entered. */
  maxDepth: number;
}

export const DEFAULT_WALK_LIMITS: WalkLimits = { maxFiles: 1000, maxEntries: 20_000, maxDepth: 16 };

/**
 * Breadth first, names sorted in each folder. A link is never followed (lstat-based Dirent types), so
 * a link to / or a loop of links costs one entry. Throws BAD_PATH past a limit: sharing part of a
 * folder the user did not choose to cut would surprise more than a clear refusal.
 */
export async function listFolderFiles(root: string, limits: WalkLimits = DEFAULT_WALK_LIMITS): Promise<FolderFiles> {
  const st = await fsp.lstat(root).catch((err) => {
    throw toP2PError(err, `reading ${root}`);
  });
  if (!st.isDirectory()) throw new P2PError('NOT_A_FILE', `${root} is not a folder`);
  const out: FolderFiles = { files: [], skippedNotFiles: 0, skippedNames: 0 };
  const names = new Set<string>();
  let entries = 0;
  let level = [root];
  for (let depth = 0; level.length > 0 && depth <= limits.maxDepth; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let dirents;
      try {
        dirents = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        throw toP2PError(err, `reading ${dir}`);
      }
      dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const d of dirents) {
        if (++entries > limits.maxEntries) {
          throw new P2PError('BAD_PATH', `${root} holds more than ${limits.maxEntries} entries; share a smaller folder`);
        }
        const full = path.join(dir, d.name);
        if (d.isDirectory()) next.push(full);
        else if (!d.isFile()) out.skippedNotFiles++;
        else if (!isValidContentName(d.name) || names.has(d.name)) out.skippedNames++;
        else {
          if (out.files.length >= limits.maxFiles) {
            throw new P2PError('BAD_PATH', `${root} holds more than ${limits.maxFiles} files; share a smaller folder`);
          }
          names.add(d.name);
          out.files.push(full);
        }
      }
    }
    level = next;
  }
  return out;
}
