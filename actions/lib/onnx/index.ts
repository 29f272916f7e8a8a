export { exportRidgeOnnx } from './export-ridge.ts';
export { exportGbdtOnnx } from './export-gbdt.ts';
export { scoreOnnx, loadSession, sha256Hex } from './score.ts';
export { readOnnxMetadata, type OnnxModelInfo, type OnnxTensorInfo } from './metadata.ts';
export { checkOnnxWithOfficialChecker, officialCheckerAvailable, CHECKER_INSTALL_HINT } from './checker.ts';
export { type OnnxMetadata, INPUT_NAME, OUTPUT_NAME } from './proto.ts';
