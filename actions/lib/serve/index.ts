/** Online serving: the deployed champions behind HTTP, their predictions logged, Prometheus metrics. */
export { startModelServer, type ModelServer, type ServeOptions } from './server.ts';
export { ModelStore, type LoadedModel, type ModelProblem, type RefreshResult } from './models.ts';
export { ServeMetrics } from './metrics.ts';
export { PredictionLog, inputsHash, type ServedRow } from './log.ts';
