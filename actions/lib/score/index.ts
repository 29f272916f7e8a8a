/** Scoring: the deployed champion's predictions over a window of the source (mlops.predictions). */
export { scoreWindow, scorePipelines, scoreSummaryMarkdown, ScoreFailure, type ScoreOutcome, type ScoreResult, type ScoreWindowOptions, type ScorePipelinesOptions } from './score.ts';
export { servingMatrix, historyMinutes, SERVING_TARGET, type ServingMatrix } from './features.ts';
export { writePredictions, PREDICTION_BATCH, type PredictionRows } from './write.ts';
