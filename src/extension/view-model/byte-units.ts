// Byte counts, speeds and durations as short text for rows, tooltips and progress messages.

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** "0 B", "512 B", "1.2 KB", "12 MB", "3.0 GB" (binary multiples, as VS Code shows file sizes). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '? B';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // One decimal while it still says something; rounding can carry into the next unit (1023.96 KB).
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

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.max(0, bytesPerSecond))}/s`;
}

/** "8 s", "2 min 5 s", "1 h 4 min": remaining time of a transfer. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return rest ? `${Math.floor(s / 60)} min ${rest} s` : `${s / 60} min`;
  }
  const minutes = Math.floor((s % 3600) / 60);
  return minutes ? `${Math.floor(s / 3600)} h ${minutes} min` : `${s / 3600} h`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
