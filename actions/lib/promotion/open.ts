import { higherIsBetter, metricValue } from '../evaluate/metrics.ts';
import type { Db } from '../db/index.ts';
import { promotionFromRunState } from '../registry/from-run.ts';
import { readRunState, runFile } from '../retrain/run-dir.ts';
import { resultOf } from '../retrain/stages.ts';
import { promotionBody, promotionTitle } from '../report/pr-body.ts';
import { performanceHistory } from '../tracking/runs.ts';
import { readFileSync } from 'node:fs';
import type { GitIdentity } from '../git/git.ts';
import { promotionMarker } from './marker.ts';
import { autoMergeDecision, promote, type PromoteResult, type PromotionTarget } from './promote.ts';

export interface OpenPromotionOptions {
  /** the run directory of a run whose gate decided `promote` */
  runDir: string;
  target: PromotionTarget;
  /** default: the pipeline's promotion.base_branch */
  base?: string;
  author?: GitIdentity;
}

export type OpenPromotionResult = PromoteResult & { title: string; model: string };

/**
 * The promotion stage of a run: the registry edit, branch and pull request of DESIGN §7, with the
 * body rendered from exactly what the run evaluated and the metric history from the database.
 */
export async function openPromotion(db: Db, o: OpenPromotionOptions): Promise<OpenPromotionResult> {
  const state = readRunState(o.runDir);
  const result = resultOf(state, o.runDir);
  const promotion = promotionFromRunState(state, new Uint8Array(readFileSync(runFile(o.runDir, 'model'))));
  const history = await performanceHistory(db, state.pipeline, 12);
  const metric = state.config.gates.metric;
  const value = metricValue(result.scores.challenger!.metrics, metric);
  const candidate = { run: state.run_id, metric, value, ...(higherIsBetter(metric) ? { lowerIsBetter: false } : {}) };
  let title = '';
  const autoMerge = autoMergeDecision(state.config.promotion.auto_merge_min_improvement_pct, state.gate?.improvement_pct ?? null, state.forced);
  const out = await promote(o.target, {
    base: o.base ?? state.config.promotion.base_branch,
    promotion,
    candidate,
    render: (plan) => {
      title = promotionTitle(state.pipeline, plan.version, result);
      const marker = promotionMarker(state.pipeline, { ...candidate, version: plan.version });
      return {
        title,
        body: promotionBody({
          result,
          version: plan.version,
          previousVersion: plan.previousVersion,
          artifact: plan.artifact,
          history,
          marker,
          model: state.pipeline,
          autoMerge,
        }),
      };
    },
    author: o.author,
    committer: o.author,
    labels: state.config.promotion.labels,
    reviewers: state.config.promotion.reviewers,
    teamReviewers: state.config.promotion.team_reviewers,
    autoMerge,
  });
  return { ...out, title, model: state.pipeline };
}
