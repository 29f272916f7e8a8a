/**
 * The daily monitoring in one call, as the CLI, the actions and the demo run it: per pipeline,
 * data quality of the last day, drift against the champion's training window, the health rules;
 * then the alerts those rules raise or clear, and at most one triggered retrain per pipeline
 * (severe drift or a stale champion) within its cooldown.
 */
import type { PipelineConfig } from '../config/schema.ts';
import type { Db } from '../db/index.ts';
import { syncAlerts, type AlertChange, type RuleResult } from './alerts.ts';
import { dispatchRetrain, type DispatchResult, type DispatchTrigger } from './dispatch.ts';
import { runDrift, type DriftRun } from './drift-run.ts';
import { evaluateHealth, type HealthReport } from './health.ts';
import type { GitHubTarget } from '../github/client.ts';
import { runQuality, type QualityRun } from './quality-run.ts';
import type { WebhookOptions } from './webhook.ts';

export type MonitoringCheck = 'quality' | 'drift' | 'health';
export const ALL_CHECKS: readonly MonitoringCheck[] = ['quality', 'drift', 'health'];

export interface DailyMonitoringOptions {
  /** the pipelines to watch (PipelineConfig, or LoadedPipeline's `{ config }`) */
  pipelines: readonly (PipelineConfig | { config: PipelineConfig })[];
  /** the checkout holding registry/production.json */
  repoDir: string;
  asOf: Date;
  /** which checks to run (default all three) */
  checks?: readonly MonitoringCheck[];
  /** alert issues and retrain dispatch; absent or null: terminal and table only */
  github?: GitHubTarget | null;
  webhook?: WebhookOptions | null;
  /** quality window (default 24 h) */
  qualitySinceMs?: number;
  /** drift current window in days (default each pipeline's drift.current_days) */
  currentDays?: number;
  /** the wall clock, for retrains that never finished (default now) */
  now?: Date;
  /** one line per alert change and dispatch (default: silent) */
  log?: (line: string) => void;
}

export interface DailyMonitoringResult {
  asOf: string;
  checks: MonitoringCheck[];
  quality: QualityRun[];
  drift: DriftRun[];
  health: HealthReport[];
  /** every rule evaluated, firing or not */
  rules: RuleResult[];
  alerts: { raised: AlertChange[]; cleared: AlertChange[]; all: AlertChange[] };
  dispatches: DispatchResult[];
  /** the Markdown drift report(s) */
  driftMarkdown: string;
  /** the whole run as Markdown (job summary) */
  markdown: string;
}

const configOf = (p: PipelineConfig | { config: PipelineConfig }): PipelineConfig => ('config' in p ? p.config : p);

/** The drift rules of one drift run: dataset drift, prediction drift and, for a classifier, label drift (unknown when nothing was compared). */
export function driftRules(run: DriftRun, config: PipelineConfig): RuleResult[] {
  const unknown = (rule: RuleResult['rule']): RuleResult => ({
    pipeline: run.pipeline,
    rule,
    status: 'unknown',
    severity: 'warning',
    message: run.message,
    details: { outcome: run.outcome },
  });
  if (run.outcome !== 'reported' || !run.result) {
    return [unknown('data-drift'), unknown('prediction-drift'), ...(config.task === 'classification' ? [unknown('label-drift')] : [])];
  }
  const r = run.result;
  const drifted = r.features.filter((f) => f.drifted);
  const data: RuleResult = {
    pipeline: run.pipeline,
    rule: 'data-drift',
    status: r.datasetDrift ? 'firing' : 'ok',
    severity: run.severe ? 'critical' : 'warning',
    message: run.message + (run.severe ? `; retrain_on_drift: a retrain is dispatched (cooldown ${config.drift.retrain_cooldown_hours} h)` : ''),
    details: {
      report_id: run.reportId,
      model_version: run.modelVersion,
      drifted_share: r.driftShare,
      dataset_drift_share: r.datasetDriftShare,
      drifted: drifted.map((f) => ({ column: f.feature, test: f.test, statistic: f.statistic, effect_size: f.effectSize })),
      reference: run.reference,
      current: run.current,
    },
    evidence: run.markdown,
  };
  const p = run.prediction;
  const pred: RuleResult =
    !p || p.status !== 'compared' || !p.drift
      ? { ...unknown('prediction-drift'), message: `${run.pipeline}: predictions not compared (${p?.reason ?? 'no champion'})` }
      : {
          pipeline: run.pipeline,
          rule: 'prediction-drift',
          status: p.drift.drifted ? 'firing' : 'ok',
          severity: 'warning',
          message: `${run.pipeline}: the champion's predictions ${p.drift.drifted ? 'drifted' : 'are stable'} (${p.drift.test} ${Number((p.drift.statistic ?? NaN).toPrecision(3))}, threshold ${p.drift.threshold}; mean ${Number((p.drift.reference.mean ?? NaN).toPrecision(4))} -> ${Number((p.drift.current.mean ?? NaN).toPrecision(4))})`,
          details: { model_version: run.modelVersion, ...p.drift, reference_rows: p.referenceRows, current_rows: p.currentRows },
          evidence: run.markdown,
        };
  if (config.task !== 'classification') return [data, pred];
  const l = run.labels;
  const share = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');
  const label: RuleResult =
    !l || l.status !== 'compared' || !l.drift
      ? { ...unknown('label-drift'), message: `${run.pipeline}: the share of positives not compared (${l?.reason ?? 'no champion'})` }
      : {
          pipeline: run.pipeline,
          rule: 'label-drift',
          status: l.drift.drifted ? 'firing' : 'ok',
          severity: 'warning',
          message:
            `${run.pipeline}: the share of positives ${l.drift.drifted ? 'drifted' : 'is stable'}: ${share(l.reference.positive_rate)} of the champion's ` +
            `${l.reference.labelled} training labels, ${share(l.current.positive_rate)} of the ${l.current.labelled} labelled rows since ${l.current.start.slice(0, 10)} ` +
            `(χ² p ${Number((l.drift.pvalue ?? NaN).toPrecision(3))}, Cramér's V ${Number((l.drift.effectSize ?? NaN).toPrecision(3))})`,
          details: { model_version: run.modelVersion, ...l },
          evidence: run.markdown,
        };
  return [data, pred, label];
}

function alertTable(changes: AlertChange[]): string {
  const shown = changes.filter((c) => c.outcome !== 'unchanged' || c.issue);
  if (shown.length === 0) return '_No alert opened, updated or resolved._';
  return [
    '| alert | outcome | severity | issue | message |',
    '|---|---|---|---|---|',
    ...shown.map(
      (c) =>
        `| \`${c.key}\` | ${c.outcome} | ${c.severity} | ${c.issue ? `[#${c.issue.number}](${c.issue.url}) ${c.issue.outcome}` : c.delivery.github} | ${c.message.replace(/\|/g, '\\|')} |`,
    ),
  ].join('\n');
}

function ruleTable(rules: RuleResult[]): string {
  const mark = { firing: '⚠️ firing', ok: '✅ ok', unknown: '— unknown' } as const;
  return [
    '| pipeline | rule | status | detail |',
    '|---|---|---|---|',
    ...rules.map((r) => `| ${r.pipeline} | ${r.rule} | ${mark[r.status]} | ${r.message.replace(/\|/g, '\\|')} |`),
  ].join('\n');
}

export async function runDailyMonitoring(db: Db, options: DailyMonitoringOptions): Promise<DailyMonitoringResult> {
  const checks = [...(options.checks ?? ALL_CHECKS)];
  const { asOf, repoDir } = options;
  const log = options.log ?? (() => undefined);
  const github = options.github ?? null;
  const quality: QualityRun[] = [];
  const drift: DriftRun[] = [];
  const health: HealthReport[] = [];
  const rules: RuleResult[] = [];
  const retrain = new Map<string, { config: PipelineConfig; reasons: string[]; triggers: Set<'drift' | 'stale'> }>();
  const want = (config: PipelineConfig, trigger: 'drift' | 'stale', reason: string): void => {
    const entry = retrain.get(config.name) ?? { config, reasons: [], triggers: new Set() };
    entry.reasons.push(reason);
    entry.triggers.add(trigger);
    retrain.set(config.name, entry);
  };

  for (const p of options.pipelines) {
    const config = configOf(p);
    if (checks.includes('quality')) {
      const q = await runQuality(db, config, { asOf, sinceMs: options.qualitySinceMs });
      quality.push(q);
      rules.push(q.rule);
    }
    if (checks.includes('drift')) {
      const d = await runDrift(db, config, { repoDir, asOf, currentDays: options.currentDays });
      drift.push(d);
      rules.push(...driftRules(d, config));
      if (d.severe && d.result) {
        const cols = d.result.features.filter((f) => f.drifted).map((f) => f.feature);
        want(
          config,
          'drift',
          `dataset drift: ${d.result.driftedFeatures} of ${d.result.testedFeatures} input columns drifted (${cols.join(', ')}) against champion v${d.modelVersion}'s training window`,
        );
      }
    }
    if (checks.includes('health')) {
      const h = await evaluateHealth(db, config, { repoDir, asOf, now: options.now });
      health.push(h);
      rules.push(...h.rules);
      if (h.retrainReason) want(config, 'stale', h.retrainReason);
    }
  }

  const all = await syncAlerts(db, rules, { asOf, github, webhook: options.webhook ?? null, log });
  const dispatches: DispatchResult[] = [];
  for (const { config, reasons, triggers } of retrain.values()) {
    const trigger: DispatchTrigger = triggers.size === 2 ? 'drift+stale' : triggers.has('drift') ? 'drift' : 'stale';
    // the alert the retrain answers: the drift alert, else the stale champion's
    const rule = triggers.has('drift') ? 'data-drift' : 'stale-champion';
    const fired = all.find((c) => c.pipeline === config.name && c.rule === rule && c.id !== null);
    const alert = fired ? { id: fired.id!, issueUrl: fired.issue?.url ?? null } : null;
    dispatches.push(
      await dispatchRetrain(
        db,
        {
          pipeline: config.name,
          reason: reasons.join('; '),
          trigger,
          cooldownHours: config.drift.retrain_cooldown_hours,
          asOf,
          alert,
        },
        github,
        log,
      ),
    );
  }

  const raised = all.filter((c) => c.outcome === 'opened' || c.outcome === 'updated');
  const cleared = all.filter((c) => c.outcome === 'resolved');
  const driftMarkdown = drift.map((d) => d.markdown).join('\n');
  const sections = [`## Monitoring as of ${asOf.toISOString()} (${checks.join(', ')})`, ''];
  sections.push('### Alerts', '', alertTable(all), '');
  if (dispatches.length) {
    sections.push(
      '### Triggered retrains',
      '',
      '| pipeline | outcome | reason |',
      '|---|---|---|',
      ...dispatches.map((d) => `| ${d.pipeline} | ${d.outcome}${d.previous ? ` (last ${d.previous.at})` : ''}${d.error ? `: ${d.error}` : ''} | ${d.reason} |`),
      '',
    );
  }
  sections.push('### Rules', '', ruleTable(rules), '');
  for (const q of quality) sections.push(q.markdown);
  if (driftMarkdown) sections.push(driftMarkdown);
  return {
    asOf: asOf.toISOString(),
    checks,
    quality,
    drift,
    health,
    rules,
    alerts: { raised, cleared, all },
    dispatches,
    driftMarkdown,
    markdown: sections.join('\n'),
  };
}
