// Checks for numbers from options, settings and the command line; each caller words its own error, so these only answer yes or no.

/** A whole number from `min` to `max`, both included. */
export function isWholeNumberIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** A finite number above zero. */
export function isPositiveNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** A finite number of zero or more. */
export function isNonNegativeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * The value of text made only of ASCII digits (at most `maxDigits` of them), else NaN; signs, spaces,
 * decimals and exponents are refused so "1e3" or "-0" never slip through Number().
 */
export function digitsValue(text: string, maxDigits = Infinity): number {
  if (!/^\d+$/u.test(text) || text.length > maxDigits) return NaN;
  return Number(text);
}
