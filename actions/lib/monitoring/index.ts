/** Watching the models: daily data quality and drift, health rules, alerts with a lifecycle, triggered retrains. */
export { runDailyMonitoring, driftRules, ALL_CHECKS, type DailyMonitoringOptions, type DailyMonitoringResult, type MonitoringCheck } from './daily.ts';
export {
  runDrift,
  renderDriftMarkdown,
  driftColumns,
  recordedSpec,
  type DriftRun,
  type DriftRunOptions,
  type DriftRunOutcome,
  type PredictionDrift,
} from './drift-run.ts';
export { runQuality, DEFAULT_QUALITY_SINCE_MS, type QualityRun } from './quality-run.ts';
export { evaluateHealth, metricRiseRule, notPromotedRule, staleChampionRule, retrainFailedRule, type HealthOptions, type HealthReport } from './health.ts';
export {
  syncAlerts,
  listOpenAlerts,
  closeAlertsOfDeployment,
  type ClosedAlert,
  type DeployedVersion,
  alertKey,
  issueBody,
  issueTitle,
  RULE_TITLES,
  type AlertChange,
  type AlertOutcome,
  type AlertRule,
  type AlertSinks,
  type OpenAlert,
  type RuleResult,
  type Severity,
} from './alerts.ts';
export { dispatchRetrain, type DispatchOutcome, type DispatchRequest, type DispatchResult, type DispatchTrigger } from './dispatch.ts';
export { alertMarker, parseAlertMarker, ALERT_LABEL, type IssueOutcome } from './issues.ts';
export { postWebhook, redactWebhookUrl, type WebhookOptions, type WebhookResult } from './webhook.ts';
export { runSweep, sweepMarkdown, readingFlagsRule, servingErrorsRule, missingPredictionsRule, type SweepResult } from './sweep.ts';
