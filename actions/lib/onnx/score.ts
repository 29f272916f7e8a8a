import { sha256Hex } from '../util/sha256.ts';
import * as ort from 'onnxruntime-node';
import { INPUT_NAME, PROBABILITIES_NAME } from './proto.ts';

/** Sessions by sha256 of the model bytes; small, since a run scores a handful of models. */
const sessions = new Map<string, Promise<ort.InferenceSession>>();
const MAX_SESSIONS = 16;

/**
 * An onnxruntime session for model bytes. `label` names the model and its file (`champion v3
 * (registry/models/x/3/model.onnx)`): bytes onnxruntime cannot load fail with it, not with a bare
 * "Protobuf parsing failed".
 */
export async function loadSession(bytes: Uint8Array, label?: string, options?: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  const hash = sha256Hex(bytes);
  const key = options ? `${hash} ${JSON.stringify(options)}` : hash;
  let session = sessions.get(key);
  if (!session) {
    if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
    const model = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    session = options ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model);
    session.catch(() => sessions.delete(key));
    sessions.set(key, session);
  }
  try {
    return await session;
  } catch (err) {
    if (!label) throw err;
    throw new Error(`${label} is not an ONNX model onnxruntime can load (${bytes.byteLength} bytes, sha256 ${hash.slice(0, 12)}): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The output names a classifier's probabilities [N, 2] may have: ours, and skl2onnx's default (zipmap off). */
export const PROBABILITY_OUTPUTS = [PROBABILITIES_NAME, 'output_probability'] as const;

/** What a model says about each row. */
export interface ModelScores {
  /** classification when the model has a probabilities output [N, 2], else regression (one output) */
  task: 'regression' | 'classification';
  /** per row: the prediction (regression) or the positive-class probability (classification, column 1) */
  values: Float32Array;
}

/**
 * THE scoring function: every path that scores a model (evaluation, batch scoring, drift on
 * predictions, serving) calls it, with row-major float32 features [rows, nFeatures] in the
 * model's input `features`. A regression model's single output is one value per row; a
 * classifier's `probabilities` [N, 2] gives the positive class's probability (column 1). The label
 * at a decision threshold is `predictedLabels(values, threshold)` (what the model's own `label`
 * output says too).
 */
export async function scoreModel(bytes: Uint8Array, X: Float32Array, rows: number, nFeatures: number, label?: string): Promise<ModelScores> {
  if (X.length !== rows * nFeatures) throw new Error(`scoreOnnx: X has ${X.length} values, expected ${rows} rows x ${nFeatures} features`);
  return scoreSession(await loadSession(bytes, label), X, rows, nFeatures);
}

/** The model's task from its outputs; throws for a model that is neither a regressor nor a binary classifier. */
export function sessionTask(session: ort.InferenceSession): { task: ModelScores['task']; output: string } {
  const probabilities = session.outputNames.find((n) => (PROBABILITY_OUTPUTS as readonly string[]).includes(n));
  if (probabilities) return { task: 'classification', output: probabilities };
  if (session.outputNames.length !== 1) {
    throw new Error(
      `scoreOnnx: expected one output (regression) or a "${PROBABILITIES_NAME}" output (classification), found ${JSON.stringify(session.outputNames)}`,
    );
  }
  return { task: 'regression', output: session.outputNames[0] };
}

/**
 * scoreModel on a session already loaded (loadSession): what a server that keeps one session per
 * model version calls on every request, without hashing or looking up the model's bytes.
 */
export async function scoreSession(session: ort.InferenceSession, X: Float32Array, rows: number, nFeatures: number): Promise<ModelScores> {
  if (X.length !== rows * nFeatures) throw new Error(`scoreOnnx: X has ${X.length} values, expected ${rows} rows x ${nFeatures} features`);
  const { task, output: name } = sessionTask(session);
  if (rows === 0) return { task, values: new Float32Array(0) };
  const feeds = { [INPUT_NAME]: new ort.Tensor('float32', X, [rows, nFeatures]) };
  const results = await session.run(feeds, [name]);
  const out = results[name];
  if (out.type !== 'float32') throw new Error(`scoreOnnx: output ${name} is ${out.type}, expected float32`);
  const data = out.data as Float32Array;
  if (task === 'regression') {
    if (data.length !== rows) throw new Error(`scoreOnnx: output ${name} has ${data.length} values for ${rows} rows (dims ${JSON.stringify(out.dims)})`);
    return { task, values: data };
  }
  if (out.dims.length !== 2 || out.dims[1] !== 2 || data.length !== 2 * rows) {
    throw new Error(`scoreOnnx: output ${name} has dims ${JSON.stringify(out.dims)}, expected [${rows}, 2] (a binary classifier)`);
  }
  const positive = new Float32Array(rows);
  for (let i = 0; i < rows; i++) positive[i] = data[2 * i + 1];
  return { task, values: positive };
}

/**
 * Scores rows as scoreModel does and returns the per-row values alone: the prediction, or the
 * positive-class probability of a classifier.
 */
export async function scoreOnnx(bytes: Uint8Array, X: Float32Array, rows: number, nFeatures: number, label?: string): Promise<Float32Array> {
  return (await scoreModel(bytes, X, rows, nFeatures, label)).values;
}

/** The predicted class of each row: 1 where the positive-class probability is >= the threshold (NaN: 0). */
export function predictedLabels(probabilities: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(probabilities.length);
  for (let i = 0; i < probabilities.length; i++) out[i] = probabilities[i] >= threshold ? 1 : 0;
  return out;
}
