/** Scoring: the deployed champion's predictions over a window of the source (mlops.predictions). */
export {
  scoreWindow,
  scorePipelines,
  scoreSummaryMarkdown,
  ScoreFailure,
  type ScoreOutcome,
  type ScoreResult,
  type ScoreWindowOptions,
  type ScorePipelinesOptions,
} from './score.ts';
export { servingMatrix, historyMinutes, SERVING_TARGET, type ServingMatrix } from './features.ts';
export { writePredictions, writeOnlinePredictions, PREDICTION_BATCH, type PredictionRows, type OnlinePrediction } from './write.ts';
export { requestEncoder, describeRequestIssues, type RequestEncoder, type RequestRow, type EncodedRows } from './request.ts';
