export { exportLogisticOnnx, exportRidgeOnnx } from './export-ridge.ts';
export { exportGbdtOnnx } from './export-gbdt.ts';
export { scoreModel, scoreOnnx, scoreSession, sessionTask, predictedLabels, loadSession, PROBABILITY_OUTPUTS, type ModelScores } from './score.ts';
export { readOnnxMetadata, type OnnxModelInfo, type OnnxTensorInfo } from './metadata.ts';
export { checkOnnxWithOfficialChecker, officialCheckerAvailable, CHECKER_INSTALL_HINT } from './checker.ts';
export { type OnnxMetadata, INPUT_NAME, LABEL_NAME, OUTPUT_NAME, PROBABILITIES_NAME } from './proto.ts';
export { sha256Hex } from '../util/sha256.ts';
