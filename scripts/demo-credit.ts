/**
 * The classification story of `npm run demo`: a credit-risk model whose labels (did the applicant
 * default?) become known about 30 days after each application.
 *
 * All applications and outcomes through week 3 are seeded at once, each outcome with the time it
 * became known: a run as of T sees only the applications before T and the outcomes known at T,
 * so the stories of weeks 1 to 3 are what a scheduler running on those days would have seen.
 */
import type { Db } from '../actions/lib/db/index.ts';
import type { LoadedPipeline } from '../actions/lib/config/load.ts';
import { LABEL_DELAY_DAYS, seedCredit } from '../actions/lib/demo-data/index.ts';
import { openPromotion, type OpenPromotionResult } from '../actions/lib/promotion/open.ts';
import { labelsLine } from '../actions/lib/report/markdown.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import type { RetrainResult } from '../actions/lib/retrain/result.ts';
import { scoreWindow } from '../actions/lib/score/index.ts';

const DAY = 86_400_000;
const HISTORY_DAYS = 180;
const PER_DAY = 120;

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

/** Applications from 180 days before week 1 through week 3, every outcome with the time it became known. */
export async function seedCreditDemo(db: Db, week1: Date): Promise<string> {
  const start = new Date(week1.getTime() - HISTORY_DAYS * DAY);
  const s = await seedCredit(db, {
    days: HISTORY_DAYS + 14,
    perDay: PER_DAY,
    seed: 7,
    start,
    driftFrom: week1,
    labelsUntil: new Date(week1.getTime() + 60 * DAY),
  });
  return (
    `seeded ${s.applications.toLocaleString('en-US')} credit applications into loan_applications (${s.start.toISOString().slice(0, 10)} -> ` +
    `${s.end.toISOString().slice(0, 10)}, the population drifting from ${week1.toISOString().slice(0, 10)}) and their outcomes into loan_outcomes, ` +
    `each known ${LABEL_DELAY_DAYS} days after the application (${((s.defaults / s.outcomes) * 100).toFixed(1)}% defaulted)`
  );
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
  const at = (days: number): Date => new Date(c.week1.getTime() + days * DAY);
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
  if (week3.decision !== 'promote') return null;
  const opened = await openPromotion(db, { runDir: week3.lineage.run_dir, target: local });
  say(`\n   ${opened.title}`);
  if (opened.mode === 'local') say(`   pull request body (metrics, classification gates, labels): ${c.rel(opened.bodyFile)}`);
  return opened;
}
