// A count with its noun in the right number ("1 source", "2 sources"), for every text a person reads.

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
