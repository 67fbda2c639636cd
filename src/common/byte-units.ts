// Byte counts and speeds as short text, in IEC binary units (KiB, MiB), for the terminal peer and the extension alike.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** "0 B", "512 B", "1.2 KiB", "52 MiB", "3.0 GiB"; "? B" for a count that is not one. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '? B';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // One decimal while it still says something; rounding can carry into the next unit (1023.96 KiB).
  let text = value < 10 ? value.toFixed(1) : String(Math.round(value));
  if (text === '1024' && unit < UNITS.length - 1) {
    unit++;
    text = '1.0';
  }
  return `${text} ${UNITS[unit]}`;
}

/** Exact count with thousands separators, for tooltips: "1,234,567 bytes". */
export function formatExactBytes(bytes: number): string {
  const n = Math.max(0, Math.round(bytes));
  const digits = String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${digits} ${n === 1 ? 'byte' : 'bytes'}`;
}

/** "850 KiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.max(0, bytesPerSecond))}/s`;
}
