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
const utf8 = new TextEncoder();

export const IR_VERSION = 8;
export const OPSET_DEFAULT = 17;
export const OPSET_ML = 3;
export const PRODUCER = 'gitops-mlops';
export const INPUT_NAME = 'features';
export const OUTPUT_NAME = 'prediction';

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

/** A float tensor value info; a string dim is symbolic (dim_param). */
export function floatValueInfo(name: string, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
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
  for (const key of Object.keys(meta.extra ?? {}).sort()) entries.push({ key, value: (meta.extra as Record<string, string>)[key] });
  return entries;
}

/** Wraps a graph with one `features` [N, nFeatures] input and one `prediction` [N, 1] output. */
export function buildModel(opts: {
  graphName: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  nFeatures: number;
  metadata: { key: string; value: string }[];
  /** declared types of intermediate values (for ops without type inference, e.g. Imputer) */
  valueInfo?: ValueInfoProto[];
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
      output: [floatValueInfo(OUTPUT_NAME, ['N', 1])],
      valueInfo: opts.valueInfo ?? [],
    },
    metadataProps: opts.metadata,
  });
  return onnx.ModelProto.encode(model).finish();
}
