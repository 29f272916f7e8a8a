import { z } from 'zod';

/**
 * Categorical columns, one-hot encoded: the one place that turns category text into model inputs,
 * for training, evaluation, batch scoring and serving alike.
 *
 * A column `region` with categories [north, south] becomes the inputs `region=north` and
 * `region=south` (1 for the row's category, 0 for the others), after the numeric features. The
 * categories are fitted on the training rows (the most frequent first, at most `max_categories`,
 * each seen at least `min_frequency` times) and recorded in the feature spec, so every later
 * encoding uses exactly the training vocabulary:
 *  - a category not in the vocabulary (unseen in training, or too rare) is all zeros, as
 *    scikit-learn's OneHotEncoder(handle_unknown='ignore') does;
 *  - a missing value (NULL) is NaN in every column of the group, so trees learn where missing
 *    goes and linear models impute it like any other missing input.
 * Column names cannot contain `=` (they are SQL identifiers), so `column=category` never clashes
 * with another feature name.
 */

export const categoricalEncodingSchema = z.object({
  column: z.string(),
  /** the vocabulary in input order; null until fitted on training rows */
  categories: z.array(z.string()).nullable(),
  max_categories: z.number().int().min(1),
  min_frequency: z.number().int().min(1),
});
export type CategoricalEncoding = z.output<typeof categoricalEncodingSchema>;

/** The input name of one category of a column. */
export function oneHotName(column: string, category: string): string {
  return `${column}=${category}`;
}

/** A one-hot input name (the only feature names with `=`). */
export function isOneHotName(name: string): boolean {
  return name.includes('=');
}

/** The input names a fitted encoding produces, in order. */
export function oneHotNames(enc: CategoricalEncoding): string[] {
  if (!enc.categories) throw new Error(`categorical column "${enc.column}" has no fitted categories`);
  return enc.categories.map((c) => oneHotName(enc.column, c));
}

/**
 * The vocabulary of a column from its codes (NaN = missing) into `dictionary`, counted over
 * `rows` (all when absent): categories seen at least `min_frequency` times, most frequent first
 * (ties by text, so the order never depends on the data's order), at most `max_categories`.
 */
export function fitCategories(
  codes: Float64Array,
  dictionary: readonly string[],
  enc: Pick<CategoricalEncoding, 'max_categories' | 'min_frequency'>,
  rows?: ArrayLike<number>,
): string[] {
  const counts = new Float64Array(dictionary.length);
  const n = rows ? rows.length : codes.length;
  for (let k = 0; k < n; k++) {
    const v = codes[rows ? rows[k] : k];
    if (v === v) counts[v]++;
  }
  const seen: { category: string; count: number }[] = [];
  dictionary.forEach((category, code) => {
    if (counts[code] >= enc.min_frequency) seen.push({ category, count: counts[code] });
  });
  seen.sort((a, b) => b.count - a.count || (a.category < b.category ? -1 : a.category > b.category ? 1 : 0));
  return seen.slice(0, enc.max_categories).map((s) => s.category);
}

/** For each dictionary code, its index in the vocabulary, or -1 (unseen or too rare). */
export function vocabularyIndex(dictionary: readonly string[], categories: readonly string[]): Int32Array {
  const at = new Map(categories.map((c, i) => [c, i]));
  return Int32Array.from(dictionary, (c) => at.get(c) ?? -1);
}

/**
 * The one-hot columns of one categorical column: `categories.length` arrays of `codes.length`
 * values (1, 0, or NaN for a missing value).
 */
export function oneHotColumns(codes: Float64Array, dictionary: readonly string[], categories: readonly string[]): Float64Array[] {
  const index = vocabularyIndex(dictionary, categories);
  const out = categories.map(() => new Float64Array(codes.length));
  for (let i = 0; i < codes.length; i++) {
    const v = codes[i];
    if (v !== v) {
      for (const col of out) col[i] = Number.NaN;
      continue;
    }
    const k = index[v];
    if (k >= 0) out[k][i] = 1;
  }
  return out;
}

/**
 * One row's inputs for one categorical column (serving): `categories.length` values for the
 * category text `value` (null = missing). Unseen text is all zeros, as in training.
 */
export function oneHotValue(value: string | null, categories: readonly string[]): number[] {
  if (value === null) return categories.map(() => Number.NaN);
  return categories.map((c) => (c === value ? 1 : 0));
}

/**
 * Codes of a column in one dictionary re-expressed in another (categories missing from `to` are
 * appended to it), so that two windows extracted separately can be compared category by category.
 */
export function recode(codes: Float64Array, from: readonly string[], to: string[]): Float64Array {
  const at = new Map(to.map((c, i) => [c, i]));
  const map = from.map((c) => {
    let k = at.get(c);
    if (k === undefined) {
      k = to.length;
      to.push(c);
      at.set(c, k);
    }
    return k;
  });
  return Float64Array.from(codes, (v) => (v === v ? map[v] : Number.NaN));
}
