import { z } from 'zod';

/** Ridge regression: standardised features, closed-form solve, NaN imputed with training means. */
export const ridgeParamsSchema = z
  .object({
    alpha: z.number().min(0).default(1),
  })
  .strict();

/**
 * Class weights of a classification trainer: `balanced` weighs each class by
 * rows / (2 * rows of the class), as scikit-learn's class_weight='balanced', so a rare positive
 * class counts as much as the common one.
 */
export const classWeightSchema = z.enum(['none', 'balanced']);

/**
 * L2-regularised logistic regression: standardised features, NaN imputed with training means,
 * Newton's method. Minimises C · Σ w_i logloss_i + ½‖coef‖² like scikit-learn's LogisticRegression
 * (on standardised features; the intercept is not penalised).
 */
export const logisticParamsSchema = z
  .object({
    /** inverse regularisation strength, as scikit-learn's C */
    C: z.number().gt(0).default(1),
    class_weight: classWeightSchema.default('none'),
    max_iter: z.number().int().min(1).max(1000).default(100),
    /** stop when no coefficient's Newton step is larger than this */
    tol: z.number().gt(0).default(1e-8),
  })
  .strict();

/**
 * Histogram gradient boosting (LightGBM / xgboost `hist` style): squared error for regression,
 * log loss (Friedman's binomial deviance: trees fitted to the gradient, Newton leaf values) for
 * classification.
 */
export const gbdtParamsSchema = z
  .object({
    trees: z.number().int().min(1).max(10_000).default(200),
    max_depth: z.number().int().min(1).max(16).default(6),
    learning_rate: z.number().gt(0).max(1).default(0.05),
    /** L2 penalty on leaf values (added to the row count in leaf values and gains) */
    l2: z.number().min(0).default(1),
    min_samples_leaf: z.number().int().min(1).default(20),
    /** a split must reduce the loss ½·Σ(prediction − y)² by more than this */
    min_gain: z.number().min(0).default(0),
    max_bins: z.number().int().min(2).max(255).default(255),
    subsample: z.number().gt(0).max(1).default(1),
    colsample: z.number().gt(0).max(1).default(1),
    /** Stop when the internal validation slice has not improved for this many trees; null disables. */
    early_stopping_rounds: z.number().int().min(1).nullable().default(20),
    /** Newest share of the training part held back for early stopping. */
    validation_fraction: z.number().gt(0).lt(0.5).default(0.1),
    seed: z.number().int().min(0).default(42),
    /**
     * Threads for histogram building; 0 = auto: one per core and per 50,000 training rows. Each
     * builds one feature group of at least 24 of the features a tree samples (narrower ones cost
     * more than they save), so a fit uses at most colsample x features / 24.
     */
    threads: z.number().int().min(0).max(64).default(0),
    /** classification only */
    class_weight: classWeightSchema.default('none'),
  })
  .strict();

/** Any program that reads the feature matrix (Arrow IPC) and writes an ONNX file. */
export const commandParamsSchema = z
  .object({
    command: z.array(z.string().min(1)).min(1),
    timeout_minutes: z.number().gt(0).default(30),
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const trainerSchema = z.discriminatedUnion('algorithm', [
  z.object({ algorithm: z.literal('ridge'), params: ridgeParamsSchema.default(ridgeParamsSchema.parse({})) }).strict(),
  z.object({ algorithm: z.literal('gbdt'), params: gbdtParamsSchema.default(gbdtParamsSchema.parse({})) }).strict(),
  z.object({ algorithm: z.literal('logistic'), params: logisticParamsSchema.default(logisticParamsSchema.parse({})) }).strict(),
  z.object({ algorithm: z.literal('command'), params: commandParamsSchema }).strict(),
]);

export type RidgeParams = z.infer<typeof ridgeParamsSchema>;
export type GbdtParams = z.infer<typeof gbdtParamsSchema>;
export type LogisticParams = z.infer<typeof logisticParamsSchema>;
export type ClassWeight = z.infer<typeof classWeightSchema>;
export type CommandParams = z.infer<typeof commandParamsSchema>;
export type TrainerSpec = z.infer<typeof trainerSchema>;
/** A trainer spec as written in YAML: params may omit fields that have defaults. */
export type TrainerSpecInput = z.input<typeof trainerSchema>;
