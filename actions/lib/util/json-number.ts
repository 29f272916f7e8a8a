import { z } from 'zod';

/** A number field read back from JSON: null (how NaN and ±Infinity were written, see json.ts) becomes NaN. */
export const jsonNumber = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN);
