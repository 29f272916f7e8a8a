/**
 * Small builders over the protobufjs-generated ONNX schema (onnx-proto): attributes, tensors,
 * value infos and the model envelope. Every exporter goes through here.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

const AttrType = onnx.AttributeProto.AttributeType;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const utf8 = new TextEncoder();

export const IR_VERSION = 8;
export const OPSET_DEFAULT = 17;
export const OPSET_ML = 3;
export const PRODUCER = 'gitops-mlops';
export const INPUT_NAME = 'features';
/** a regression model's one output, [N, 1] */
export const OUTPUT_NAME = 'prediction';
/** a classification model's outputs (as skl2onnx with zipmap off): int64 [N] at the decision threshold, float [N, 2] */
export const LABEL_NAME = 'label';
export const PROBABILITIES_NAME = 'probabilities';

export function attrFloat(name: string, f: number): AttributeProto {
  return { name, type: AttrType.FLOAT, f };
}
export function attrFloats(name: string, floats: ArrayLike<number>): AttributeProto {
  return { name, type: AttrType.FLOATS, floats: Array.from(floats) };
}
export function attrInt(name: string, i: number): AttributeProto {
  return { name, type: AttrType.INT, i };
}
export function attrInts(name: string, ints: ArrayLike<number>): AttributeProto {
  return { name, type: AttrType.INTS, ints: Array.from(ints) };
}
export function attrString(name: string, s: string): AttributeProto {
  return { name, type: AttrType.STRING, s: utf8.encode(s) };
}
export function attrStrings(name: string, strings: string[]): AttributeProto {
  return { name, type: AttrType.STRINGS, strings: strings.map((s) => utf8.encode(s)) };
}

/** A float32 initializer; values are rounded to float32 by the encoder. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  return { name, dataType: FLOAT, dims, floatData: Array.from(values) };
}

/** An int64 initializer. */
export function int64Tensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  return { name, dataType: INT64, dims, int64Data: Array.from(values) };
}

/** A float tensor value info; a string dim is symbolic (dim_param). */
export function floatValueInfo(name: string, dims: (number | string)[]): ValueInfoProto {
  return valueInfo(name, FLOAT, dims);
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/**
 * The end of a binary classifier's graph: from a raw score (log-odds) [N, 1] to the outputs
 * `label` (int64 [N]: 1 where the probability is >= the decision threshold) and `probabilities`
 * (float [N, 2]: 1 - p, p), the layout of skl2onnx with zipmap off.
 */
export function classifierTail(scoreName: string, decisionThreshold: number): { nodes: NodeProto[]; initializers: TensorProto[]; outputs: ValueInfoProto[] } {
  return {
    nodes: [
      { opType: 'Sigmoid', name: 'probability', input: [scoreName], output: ['positive_probability'] },
      { opType: 'Sub', name: 'negative', input: ['one', 'positive_probability'], output: ['negative_probability'] },
      {
        opType: 'Concat',
        name: 'both_classes',
        input: ['negative_probability', 'positive_probability'],
        output: [PROBABILITIES_NAME],
        attribute: [attrInt('axis', 1)],
      },
      { opType: 'GreaterOrEqual', name: 'at_threshold', input: ['positive_probability', 'decision_threshold'], output: ['is_positive'] },
      { opType: 'Cast', name: 'as_class', input: ['is_positive'], output: ['label_column'], attribute: [attrInt('to', INT64)] },
      { opType: 'Reshape', name: 'one_label_per_row', input: ['label_column', 'label_shape'], output: [LABEL_NAME] },
    ],
    initializers: [floatTensor('one', [1], [1]), floatTensor('decision_threshold', [1], [decisionThreshold]), int64Tensor('label_shape', [1], [-1])],
    outputs: [valueInfo(LABEL_NAME, INT64, ['N']), floatValueInfo(PROBABILITIES_NAME, ['N', 2])],
  };
}

/** What goes into metadata_props: lineage a reviewer can read from the artifact alone. */
export interface OnnxMetadata {
  model_name: string;
  /** ISO timestamps of the first and last training row */
  training_window: { start: string; end: string };
  /** sha256 of the exact data trained on */
  data_fingerprint: string;
  /** defaults to the model's feature names */
  feature_names?: string[];
  /** defaults to the model kind (ridge | gbdt) */
  trainer?: string;
  /** the validated trainer params */
  params?: Record<string, unknown>;
  /** any further string entries (e.g. code sha) */
  extra?: Record<string, string>;
  /** classification: written as `task` and `decision_threshold` so the artifact says how to read it */
  classification?: { decision_threshold: number };
}

/** Resolved metadata_props entries, in a fixed order so identical inputs give identical bytes. */
export function metadataEntries(meta: OnnxMetadata, names: string[], trainer: string): { key: string; value: string }[] {
  const entries = [
    { key: 'model_name', value: meta.model_name },
    { key: 'feature_names', value: JSON.stringify(meta.feature_names ?? names) },
    { key: 'training_window', value: JSON.stringify(meta.training_window) },
    { key: 'data_fingerprint', value: meta.data_fingerprint },
    { key: 'trainer', value: meta.trainer ?? trainer },
    { key: 'params', value: JSON.stringify(meta.params ?? {}) },
  ];
  if (meta.classification) {
    entries.push({ key: 'task', value: 'classification' }, { key: 'decision_threshold', value: String(meta.classification.decision_threshold) });
  }
  for (const key of Object.keys(meta.extra ?? {}).sort()) entries.push({ key, value: (meta.extra as Record<string, string>)[key] });
  return entries;
}

/** Wraps a graph with one `features` [N, nFeatures] input and its outputs (default one `prediction` [N, 1]). */
export function buildModel(opts: {
  graphName: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  nFeatures: number;
  metadata: { key: string; value: string }[];
  /** declared types of intermediate values (for ops without type inference, e.g. Imputer) */
  valueInfo?: ValueInfoProto[];
  /** the graph outputs; default one `prediction` [N, 1] (regression) */
  outputs?: ValueInfoProto[];
}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: PRODUCER,
    producerVersion: '1',
    opsetImport: [
      { domain: '', version: OPSET_DEFAULT },
      { domain: 'ai.onnx.ml', version: OPSET_ML },
    ],
    graph: {
      name: opts.graphName,
      node: opts.nodes,
      initializer: opts.initializers,
      input: [floatValueInfo(INPUT_NAME, ['N', opts.nFeatures])],
      output: opts.outputs ?? [floatValueInfo(OUTPUT_NAME, ['N', 1])],
      valueInfo: opts.valueInfo ?? [],
    },
    metadataProps: opts.metadata,
  });
  return onnx.ModelProto.encode(model).finish();
}
