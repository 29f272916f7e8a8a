import type { RidgeModel } from '../train/ridge.ts';
import { buildModel, floatTensor, floatValueInfo, INPUT_NAME, metadataEntries, OUTPUT_NAME, attrFloat, attrFloats, type OnnxMetadata } from './proto.ts';

/**
 * Ridge as ONNX: Imputer(NaN -> means) -> Sub(means) -> Div(stds) -> MatMul(coef) -> Add(intercept).
 * All constants are float32, exactly the model's `means`/`stds`.
 */
export function exportRidgeOnnx(model: RidgeModel, meta: OnnxMetadata): Uint8Array {
  const n = model.names.length;
  return buildModel({
    graphName: 'ridge',
    nFeatures: n,
    nodes: [
      {
        opType: 'Imputer',
        domain: 'ai.onnx.ml',
        name: 'impute_means',
        input: [INPUT_NAME],
        output: ['imputed'],
        attribute: [attrFloats('imputed_value_floats', model.means), attrFloat('replaced_value_float', NaN)],
      },
      { opType: 'Sub', name: 'centre', input: ['imputed', 'means'], output: ['centred'] },
      { opType: 'Div', name: 'scale', input: ['centred', 'stds'], output: ['standardised'] },
      { opType: 'MatMul', name: 'linear', input: ['standardised', 'coef'], output: ['linear_out'] },
      { opType: 'Add', name: 'intercept', input: ['linear_out', 'intercept'], output: [OUTPUT_NAME] },
    ],
    initializers: [
      floatTensor('means', [n], model.means),
      floatTensor('stds', [n], model.stds),
      floatTensor('coef', [n, 1], model.coef),
      floatTensor('intercept', [1], [model.intercept]),
    ],
    // ai.onnx.ml Imputer has no type inference in the checker; declare its output.
    valueInfo: [floatValueInfo('imputed', ['N', n])],
    metadata: metadataEntries(meta, model.names, 'ridge'),
  });
}
