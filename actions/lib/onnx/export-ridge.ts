import type { RidgeModel } from '../train/ridge.ts';
import type { LogisticModel } from '../train/logistic.ts';
import {
  attrFloat,
  attrFloats,
  buildModel,
  classifierTail,
  floatTensor,
  floatValueInfo,
  INPUT_NAME,
  metadataEntries,
  OUTPUT_NAME,
  type OnnxMetadata,
} from './proto.ts';

/**
 * Ridge as ONNX: Imputer(NaN -> means) -> Sub(means) -> Div(stds) -> MatMul(coef) -> Add(intercept).
 * All constants are float32, exactly the model's `means`/`stds`.
 */
export function exportRidgeOnnx(model: RidgeModel, meta: OnnxMetadata): Uint8Array {
  return buildModel({ ...linearGraph(model, OUTPUT_NAME), graphName: 'ridge', metadata: metadataEntries(meta, model.names, 'ridge') });
}

/**
 * Logistic regression as ONNX: the linear graph of ridge gives the log-odds, then the classifier
 * tail (classifierTail): Sigmoid -> `probabilities` [N, 2] and `label` at the decision threshold.
 */
export function exportLogisticOnnx(model: LogisticModel, meta: OnnxMetadata): Uint8Array {
  if (!meta.classification) throw new Error('exportLogisticOnnx: the metadata needs classification.decision_threshold');
  const linear = linearGraph(model, 'log_odds');
  const tail = classifierTail('log_odds', meta.classification.decision_threshold);
  return buildModel({
    ...linear,
    graphName: 'logistic',
    nodes: [...linear.nodes, ...tail.nodes],
    initializers: [...linear.initializers, ...tail.initializers],
    outputs: tail.outputs,
    metadata: metadataEntries(meta, model.names, 'logistic'),
  });
}

/** intercept + Σ coef_j (x_j - mean_j) / std_j with NaN imputed by mean_j, into `output` [N, 1]. */
function linearGraph(model: Pick<RidgeModel, 'names' | 'means' | 'stds' | 'coef' | 'intercept'>, output: string) {
  const n = model.names.length;
  return {
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
      { opType: 'Add', name: 'intercept', input: ['linear_out', 'intercept'], output: [output] },
    ],
    initializers: [
      floatTensor('means', [n], model.means),
      floatTensor('stds', [n], model.stds),
      floatTensor('coef', [n, 1], model.coef),
      floatTensor('intercept', [1], [model.intercept]),
    ],
    // ai.onnx.ml Imputer has no type inference in the checker; declare its output.
    valueInfo: [floatValueInfo('imputed', ['N', n])],
  };
}
