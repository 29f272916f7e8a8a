/**
 * The Actions runner protocol in one module (inputs, outputs, job summary, annotations, secret
 * masking, failure): every action entry talks to the runner through these, never to
 * @actions/core directly.
 */
export { readInputs, InputError, requiredText, optionalText, booleanInput, optionalTime, duration, type Inputs, type InputSpec } from './inputs.ts';
export { setOutputs, type OutputValue } from './outputs.ts';
export { writeSummary } from './summary.ts';
export { annotate, annotateIssues, type AnnotationLevel, type Location } from './annotations.ts';
export { maskSecret, maskUrl, scrub } from './secrets.ts';
export { databaseInputs, withDatabase, type DatabaseSettings } from './database.ts';
export { runAction, RunFailure } from './run.ts';
export { runDirInput, openRun, openRunStore, runStage, runStageAction, stageSummary, type StageReport } from './stage.ts';
export { info } from './log.ts';
