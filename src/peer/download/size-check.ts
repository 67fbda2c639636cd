// An advertised size is a claim, not a plan: the checks a claimed size passes before a download touches the disk.
import { promises as fsp } from 'node:fs';
import { formatBytes, formatExactBytes } from '../../common/byte-units';
import { P2PError } from '../../protocol/errors';
import { fsError } from './fs-calls';

/** The largest download a peer accepts unless told otherwise: 64 GiB. */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 64 * 1024 ** 3;

function sizeText(bytes: number): string {
  return `${formatBytes(bytes)} (${formatExactBytes(bytes)})`;
}

/** SIZE_LIMIT when the sources claim more than `maxBytes`; the detail names both. */
export function checkClaimedSize(name: string, size: number, maxBytes: number): void {
  if (size > maxBytes) {
    throw new P2PError('SIZE_LIMIT', `"${name}" is said to be ${sizeText(size)}; this peer downloads at most ${sizeText(maxBytes)}`);
  }
}

/**
 * DISK_FULL, before a byte is fetched, when the folder's file system cannot hold what is still missing.
 * Bytes already in `partPath` from an earlier attempt count as room, since a resume writes over them.
 */
export async function checkFreeSpace(name: string, size: number, folder: string, partPath: string): Promise<void> {
  let free: number;
  try {
    const st = await fsp.statfs(folder);
    free = st.bavail * st.bsize;
  } catch (err) {
    throw fsError(err, `reading the free space of ${folder}`);
  }
  const held = await fsp.stat(partPath).then(
    (st) => st.blocks * 512,
    () => 0,
  );
  if (size > free + held) {
    throw new P2PError('DISK_FULL', `"${name}" is said to be ${sizeText(size)}, but ${folder} has only ${sizeText(free + held)} free`);
  }
}
