/** The deploy stage (DESIGN §4.9, §7): verify the registry at a commit, record deployments, roll back, read history. */
export { verifyRegistry, verifyEntry, describeFailures, type RegistryVerification, type EntryVerification } from './verify.ts';
export {
  deploy,
  DeployVerificationError,
  DeployRefusedError,
  assertOnBranch,
  type DeployResult,
  type DeployOptions,
  type DeployOutcome,
  type ModelDeployment,
} from './deploy.ts';
// The deployments record is read well beyond this stage; its home is tracking/.
export { currentDeployments, deploymentHistory, deploymentsByCommit, type DeploymentKind, type DeploymentRow } from '../tracking/deployments.ts';
export {
  prepareRollback,
  rollbackBranchName,
  ROLLBACK_MARKER,
  ROLL_FORWARD_MARKER,
  type RollbackOptions,
  type RollbackResult,
  type RollbackOutcome,
  type RollbackDirection,
} from './rollback.ts';
export { smokeScore, smokeSample, type SmokeResult } from './smoke.ts';
export { checkClaims, changedModels } from './claims.ts';
export { approvalOf, ReviewMismatchError, type MergeFacts } from './approval.ts';
export { checkRestoredEntries, RestoredEntryError } from './restore.ts';
