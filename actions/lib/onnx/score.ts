import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { INPUT_NAME } from './proto.ts';

/** Sessions by sha256 of the model bytes; small, since a run scores a handful of models. */
const sessions = new Map<string, Promise<ort.InferenceSession>>();
const MAX_SESSIONS = 16;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * An onnxruntime session for model bytes. `label` names the model and its file (`champion v3
 * (registry/models/x/3/model.onnx)`): bytes onnxruntime cannot load fail with it, not with a bare
 * "Protobuf parsing failed".
 */
export async function loadSession(bytes: Uint8Array, label?: string): Promise<ort.InferenceSession> {
  const key = sha256Hex(bytes);
  let session = sessions.get(key);
  if (!session) {
    if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
    session = ort.InferenceSession.create(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    session.catch(() => sessions.delete(key));
    sessions.set(key, session);
  }
  try {
    return await session;
  } catch (err) {
    if (!label) throw err;
    throw new Error(`${label} is not an ONNX model onnxruntime can load (${bytes.byteLength} bytes, sha256 ${key.slice(0, 12)}): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Scores row-major float32 features [rows, nFeatures] with onnxruntime-node; returns the single
 * output flattened to one value per row.
 */
export async function scoreOnnx(bytes: Uint8Array, X: Float32Array, rows: number, nFeatures: number, label?: string): Promise<Float32Array> {
  if (X.length !== rows * nFeatures) throw new Error(`scoreOnnx: X has ${X.length} values, expected ${rows} rows x ${nFeatures} features`);
  const session = await loadSession(bytes, label);
  if (rows === 0) return new Float32Array(0);
  const feeds = { [INPUT_NAME]: new ort.Tensor('float32', X, [rows, nFeatures]) };
  const results = await session.run(feeds);
  const out = results[session.outputNames[0]];
  if (out.type !== 'float32') throw new Error(`scoreOnnx: output ${session.outputNames[0]} is ${out.type}, expected float32`);
  const data = out.data as Float32Array;
  if (data.length !== rows) throw new Error(`scoreOnnx: output ${session.outputNames[0]} has ${data.length} values for ${rows} rows (dims ${JSON.stringify(out.dims)})`);
  return data;
}
