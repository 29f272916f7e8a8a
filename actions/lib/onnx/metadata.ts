import type onnxProto from 'onnx-proto';
import { onnx } from './proto.ts';

export interface OnnxTensorInfo {
  name: string;
  /** numbers for fixed dims, strings for symbolic ones, null when unknown */
  dims: (number | string | null)[] | null;
  elem_type: number | null;
}

export interface OnnxModelInfo {
  producer_name: string;
  ir_version: number;
  opsets: { domain: string; version: number }[];
  metadata: Record<string, string>;
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
}

/** Decodes an ONNX file's envelope: metadata_props, opsets and graph inputs/outputs. */
export function readOnnxMetadata(bytes: Uint8Array): OnnxModelInfo {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new Error(`readOnnxMetadata: not an ONNX model (${(err as Error).message})`);
  }
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps) metadata[p.key ?? ''] = p.value ?? '';
  const tensor = (v: onnxProto.onnx.IValueInfoProto): OnnxTensorInfo => {
    const t = v.type?.tensorType;
    return {
      name: v.name ?? '',
      elem_type: t?.elemType ?? null,
      dims: t?.shape?.dim ? t.shape.dim.map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? Number(d.dimValue) : null)) : null,
    };
  };
  const initializers = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  return {
    producer_name: model.producerName,
    ir_version: Number(model.irVersion),
    opsets: model.opsetImport.map((o) => ({ domain: o.domain ?? '', version: Number(o.version) })),
    metadata,
    // Older exporters list initializers as inputs too; they are not feeds.
    inputs: (model.graph?.input ?? []).filter((v) => !initializers.has(v.name)).map(tensor),
    outputs: (model.graph?.output ?? []).map(tensor),
  };
}
