export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

const UNIT_MS = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;
export type DurationUnit = keyof typeof UNIT_MS;

/**
 * A duration such as `90m`, `36h` or `2d`, in milliseconds; with `defaultUnit`, a bare number
 * counts in that unit. Null when the text is not one: each caller says what it expected.
 */
export function parseDuration(text: string, defaultUnit?: DurationUnit): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(m|h|d)?$/.exec(text.trim());
  const unit = (m?.[2] as DurationUnit | undefined) ?? defaultUnit;
  return m && unit ? Number(m[1]) * UNIT_MS[unit] : null;
}
