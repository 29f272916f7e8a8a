import type { GbdtModel } from '../train/gbdt/model.ts';
import {
  attrFloats,
  attrInt,
  attrInts,
  attrString,
  attrStrings,
  buildModel,
  classifierTail,
  INPUT_NAME,
  metadataEntries,
  OUTPUT_NAME,
  type OnnxMetadata,
} from './proto.ts';

/**
 * GBDT as one ai.onnx.ml TreeEnsembleRegressor (opset-3 attributes). Split nodes are BRANCH_LEQ
 * (left = true branch when x <= threshold); a NaN follows the true branch where
 * nodes_missing_value_tracks_true = 1, i.e. where the model learned "missing goes left".
 * A classifier (objective logistic) sums its trees into log-odds the same way, then goes through
 * the classifier tail (classifierTail): Sigmoid -> `probabilities` and `label` at the threshold.
 */
export function exportGbdtOnnx(model: GbdtModel, meta: OnnxMetadata): Uint8Array {
  const logistic = model.objective === 'logistic';
  if (logistic && !meta.classification) throw new Error('exportGbdtOnnx: a classifier needs classification.decision_threshold in the metadata');
  const tail = logistic ? classifierTail('log_odds', meta.classification!.decision_threshold) : null;
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const modes: string[] = [];
  const values: number[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const missingTrue: number[] = [];
  const targetTree: number[] = [];
  const targetNode: number[] = [];
  const targetWeights: number[] = [];
  model.trees.forEach((tree, t) => {
    for (let i = 0; i < tree.feature.length; i++) {
      treeIds.push(t);
      nodeIds.push(i);
      const leaf = tree.feature[i] < 0;
      featureIds.push(leaf ? 0 : tree.feature[i]);
      modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      values.push(leaf ? 0 : tree.threshold[i]);
      trueIds.push(leaf ? 0 : tree.left[i]);
      falseIds.push(leaf ? 0 : tree.right[i]);
      missingTrue.push(leaf ? 0 : tree.missing_left[i]);
      if (leaf) {
        targetTree.push(t);
        targetNode.push(i);
        targetWeights.push(tree.value[i]);
      }
    }
  });
  return buildModel({
    graphName: 'gbdt',
    nFeatures: model.names.length,
    nodes: [
      {
        opType: 'TreeEnsembleRegressor',
        domain: 'ai.onnx.ml',
        name: 'trees',
        input: [INPUT_NAME],
        output: [tail ? 'log_odds' : OUTPUT_NAME],
        attribute: [
          attrString('aggregate_function', 'SUM'),
          attrFloats('base_values', [model.base_score]),
          attrInt('n_targets', 1),
          attrInts('nodes_falsenodeids', falseIds),
          attrInts('nodes_featureids', featureIds),
          attrInts('nodes_missing_value_tracks_true', missingTrue),
          attrStrings('nodes_modes', modes),
          attrInts('nodes_nodeids', nodeIds),
          attrInts('nodes_treeids', treeIds),
          attrInts('nodes_truenodeids', trueIds),
          attrFloats('nodes_values', values),
          attrString('post_transform', 'NONE'),
          attrInts('target_ids', new Array<number>(targetTree.length).fill(0)),
          attrInts('target_nodeids', targetNode),
          attrInts('target_treeids', targetTree),
          attrFloats('target_weights', targetWeights),
        ],
      },
      ...(tail?.nodes ?? []),
    ],
    initializers: tail?.initializers ?? [],
    ...(tail ? { outputs: tail.outputs } : {}),
    metadata: metadataEntries(meta, model.names, 'gbdt'),
  });
}
