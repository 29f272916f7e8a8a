/**
 * The classification story of `npm run demo`: a credit-risk model whose labels (did the applicant
 * default?) become known about 30 days after each application.
 *
 * All applications through week 3 are seeded at once, with the outcomes known by then, each with
 * the time it became known: a run as of T sees only the applications before T and the outcomes
 * known at T, so the stories of weeks 1 to 3 are what a scheduler running on those days would have
 * seen. The outcomes that become known later arrive as a CSV a month on (C5), loaded by `labels
 * import`, and the daily health check joins the champion's predictions to them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../actions/lib/db/index.ts';
import type { LoadedPipeline } from '../actions/lib/config/load.ts';
import type { ClassificationPipeline } from '../actions/lib/config/schema.ts';
import { creditOutcomesCsv, generateCredit, LABEL_DELAY_DAYS, seedCredit, type CreditData, type CreditOptions } from '../actions/lib/demo-data/index.ts';
import { importLabels, type LabelsImportResult } from '../actions/lib/labels/import.ts';
import type { LivePerformance } from '../actions/lib/labels/live.ts';
import { runDailyMonitoring } from '../actions/lib/monitoring/index.ts';
import { fmtMetric, fmtInt } from '../actions/lib/report/format.ts';
import { labelsImportLine } from './commands/labels.ts';
import { openPromotion, type OpenPromotionResult } from '../actions/lib/promotion/open.ts';
import { labelsLine } from '../actions/lib/report/markdown.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import type { RetrainResult } from '../actions/lib/retrain/result.ts';
import { scoreWindow } from '../actions/lib/score/index.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const HISTORY_DAYS = 180;
const PER_DAY = 120;
/** applications (and the outcomes known by then) are seeded through week 3 */
const SEEDED_DAYS = 14;
/** C5: the day the late outcomes are loaded, 38 days after week 1 (week 1's first 8 days of outcomes have arrived) */
const LABELS_DAY = 38;

export interface CreditDemoContext {
  db: Db;
  /** the classification pipelines (the demo has one: credit-default) */
  pipelines: LoadedPipeline[];
  week1: Date;
  runsDir: string;
  checkout: string;
  origin: string;
  root: string;
  say(line?: string): void;
  step(title: string): void;
  rel(path: string): string;
  indent(text: string): string;
  printDecision(r: RetrainResult): void;
  /** merges at `at` on the demo's clock (the promotion time) and deploys */
  approveAndDeploy(opened: OpenPromotionResult, at: Date): Promise<string>;
}

/** The demo's applications: 180 days before week 1 through week 3, the population drifting from week 1. */
export function creditDemoOptions(week1: Date): CreditOptions {
  return { days: HISTORY_DAYS + SEEDED_DAYS, perDay: PER_DAY, seed: 7, start: new Date(week1.getTime() - HISTORY_DAYS * DAY_MS), driftFrom: week1 };
}

/** Applications from 180 days before week 1 through week 3, and the outcomes known by week 3. */
export async function seedCreditDemo(db: Db, week1: Date): Promise<string> {
  const s = await seedCredit(db, { ...creditDemoOptions(week1), labelsUntil: new Date(week1.getTime() + SEEDED_DAYS * DAY_MS) });
  return (
    `seeded ${fmtInt(s.applications)} credit applications into loan_applications (${s.start.toISOString().slice(0, 10)} -> ` +
    `${s.end.toISOString().slice(0, 10)}, the population drifting from ${week1.toISOString().slice(0, 10)}) and the ${fmtInt(s.outcomes)} outcomes ` +
    `known by ${s.labelsUntil.toISOString().slice(0, 10)} into loan_outcomes, each known ${LABEL_DELAY_DAYS} days after the application ` +
    `(${((s.defaults / s.outcomes) * 100).toFixed(1)}% defaulted); the later ones arrive by CSV (C5)`
  );
}

export interface LateLabelsContext {
  db: Db;
  pipeline: LoadedPipeline & { config: ClassificationPipeline };
  /** the checkout holding registry/production.json (the champion) */
  checkout: string;
  /** where the CSV of outcomes is written */
  dir: string;
  /** the applications, as generated (their outcomes and when each became known) */
  data: CreditData;
  /** outcomes known before this are in the labels table already */
  labelsFrom: Date;
  /** the day of the import and of the health checks */
  asOf: Date;
  say(line?: string): void;
  rel(path: string): string;
}

export interface LateLabelsShown {
  /** the champion's live performance before and after the import (null: not computed) */
  before: LivePerformance | null;
  after: LivePerformance | null;
  imported: LabelsImportResult;
  csv: string;
}

/**
 * The outcomes known between `labelsFrom` and `asOf` arrive as a CSV: the daily health check
 * before the import (the label-coverage alert fires), `labels import` of the file, and the check
 * again: label coverage, the champion's live F1 / ROC AUC / Brier on its labelled predictions
 * against its holdout at promotion (recorded in mlops.model_performance), the alerts cleared.
 */
export async function lateLabelsStory(c: LateLabelsContext): Promise<LateLabelsShown> {
  const { db, say } = c;
  const config = c.pipeline.config;
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  const health = async (): Promise<LivePerformance | null> => {
    const watch = await runDailyMonitoring(db, { pipelines: [config], repoDir: c.checkout, asOf: c.asOf, checks: ['health'] });
    for (const r of watch.rules) {
      if (r.rule !== 'label-coverage' && r.rule !== 'live-metric-drop') continue;
      say(`   ${r.status === 'firing' ? '⚠️ ' : r.status === 'ok' ? '✅' : '❔'} ${r.rule}: ${r.message}`);
    }
    for (const a of watch.alerts.all) {
      if (a.outcome !== 'unchanged' && (a.rule === 'label-coverage' || a.rule === 'live-metric-drop')) say(`   alert ${a.outcome}: [${a.severity}] ${a.key}`);
    }
    return watch.health[0]?.live ?? null;
  };

  say(`   the daily health check as of ${day(c.asOf)}, before any outcome after ${day(c.labelsFrom)} is loaded:`);
  const before = await health();

  const { csv, rows } = creditOutcomesCsv(c.data, c.labelsFrom, c.asOf);
  mkdirSync(c.dir, { recursive: true });
  const file = join(c.dir, `outcomes-${day(c.asOf)}.csv`);
  writeFileSync(file, csv);
  say(`\n   the outcomes known by ${day(c.asOf)} arrive as a CSV of ${fmtInt(rows)} rows: ${c.rel(file)}`);
  say(`   npm run mlops -- labels import --csv ${c.rel(file)} --pipeline ${config.name}`);
  const imported = await importLabels(db, file, config);
  say(`   ${labelsImportLine({ ...imported, file: c.rel(imported.file) })}`);

  say('\n   the daily health check again:');
  const after = await health();
  const ch = after?.champion;
  if (after && ch) {
    const m = ch.metrics;
    const h = ch.holdout;
    say(
      `   label coverage ${(after.label_coverage * 100).toFixed(1)}%: ${fmtInt(after.labelled)} of the ${fmtInt(after.predictions)} applications ` +
        `predicted in ${day(new Date(after.window.start))} -> ${day(new Date(after.window.end))} have their outcome`,
    );
    say(
      `   v${ch.version}'s live accuracy on its ${fmtInt(ch.labelled)} labelled predictions: F1 ${fmtMetric(m?.f1)}, ROC AUC ${fmtMetric(m?.roc_auc)}, ` +
        `Brier ${fmtMetric(m?.brier)} (on its holdout at promotion: F1 ${fmtMetric(h?.f1)}, ROC AUC ${fmtMetric(h?.roc_auc)}, Brier ${fmtMetric(h?.brier)})`,
    );
  }
  const recorded = await db.query<{
    model_version: number;
    label_coverage: number | null;
    f1_val: number | null;
    roc_auc_val: number | null;
    brier_val: number | null;
  }>(
    `SELECT model_version, label_coverage, f1_val, roc_auc_val, brier_val FROM mlops.model_performance
     WHERE kind = 'live' AND model_name = $1 AND data_end = $2`,
    [config.name, c.asOf],
  );
  for (const r of recorded.rows) {
    say(
      `   mlops.model_performance (kind live, ${config.name} v${r.model_version}, ${day(c.asOf)}): label_coverage ${fmtMetric(r.label_coverage)}, ` +
        `f1_val ${fmtMetric(r.f1_val)}, roc_auc_val ${fmtMetric(r.roc_auc_val)}, brier_val ${fmtMetric(r.brier_val)}`,
    );
  }
  return { before, after, imported, csv: file };
}

/** Weeks 1 to 3 of the credit-default pipeline; returns the promotion it leaves ready for review. */
export async function creditStory(c: CreditDemoContext): Promise<OpenPromotionResult | null> {
  const { db, say } = c;
  const found = c.pipelines[0];
  if (!found) {
    say('   no classification pipeline in pipelines/: nothing to show');
    return null;
  }
  const { file, config } = found;
  const at = (days: number): Date => new Date(c.week1.getTime() + days * DAY_MS);
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  const run = async (asOf: Date, trigger = 'schedule', triggerReason: string | null = null): Promise<RetrainResult> => {
    const r = await retrain(db, { pipeline: config, pipelineFile: file, asOf, runsDir: c.runsDir, repoDir: c.checkout, trigger, triggerReason });
    c.printDecision(r);
    if (r.labels && r.data) say(`   labels: ${labelsLine(r.labels, r.data.rows)}`);
    return r;
  };
  const local = { kind: 'local' as const, repository: c.origin, root: c.root };

  c.step(`C1. credit risk, week 1 (${day(c.week1)}): the first classifier, trained on the outcomes known so far`);
  const first = await run(c.week1);
  if (first.decision === 'promote') {
    const opened = await openPromotion(db, { runDir: first.lineage.run_dir, target: local });
    say(`\n   promotion: ${opened.title}`);
    await c.approveAndDeploy(opened, c.week1); // approved as soon as the run is done
  }

  c.step('C2. the deployed classifier scores each new application; mlops.predictions keeps its key for the label join');
  const scored = await scoreWindow(db, config, { repoDir: c.checkout, start: c.week1, end: at(3) });
  const p = await db.query<{ n: number; flagged: number; mean: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE prediction >= $3)::int AS flagged, avg(prediction) AS mean
     FROM mlops.predictions WHERE pipeline = $1 AND model_version = $2`,
    [config.name, scored.model_version, config.task === 'classification' ? config.target.decision_threshold : 0.5],
  );
  say(
    `   v${scored.model_version} scored the ${scored.scored} applications of ${day(c.week1)} -> ${day(at(3))}: mean P(default) ${Number(p.rows[0].mean).toFixed(3)}, ` +
      `${p.rows[0].flagged} flagged at the threshold`,
  );
  say(`   their outcomes arrive from ${day(at(LABEL_DELAY_DAYS))}: each prediction then joins its label by application_id`);

  c.step('C3. a retrain 3 days after the promotion: skipped before training (7-day cooldown; --force would run it)');
  await run(at(3), 'manual', 'an analyst asked for a fresh model');

  c.step('C4. weeks 2 and 3: the applicant population drifts; each challenger meets the champion on the same labelled holdout');
  await run(at(7));
  const week3 = await run(at(14));
  let opened: OpenPromotionResult | null = null;
  if (week3.decision === 'promote') {
    opened = await openPromotion(db, { runDir: week3.lineage.run_dir, target: local });
    say(`\n   ${opened.title}`);
    if (opened.mode === 'local') say(`   pull request body (metrics, classification gates, labels): ${c.rel(opened.bodyFile)}`);
  }

  const labelsDay = at(LABELS_DAY);
  c.step(`C5. ${day(labelsDay)}: the outcomes of the scored applications arrive late; labels import, label coverage and the champion's live accuracy`);
  const more = await scoreWindow(db, config, { repoDir: c.checkout, start: at(3), end: at(SEEDED_DAYS) });
  say(`   the hourly scoring went on: v${more.model_version} scored the ${more.scored} applications of ${day(at(3))} -> ${day(at(SEEDED_DAYS))}`);
  if (config.task === 'classification') {
    await lateLabelsStory({
      db,
      pipeline: { ...found, config },
      checkout: c.checkout,
      dir: c.root,
      data: generateCredit(creditDemoOptions(c.week1)),
      labelsFrom: at(SEEDED_DAYS),
      asOf: labelsDay,
      say,
      rel: c.rel,
    });
  }
  return opened;
}
