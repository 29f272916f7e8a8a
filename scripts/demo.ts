/**
 * `npm run demo`: the weekly retrain end to end, on an embedded PostgreSQL (PGlite) with generated
 * pump-station data, against a scratch git repository that stands in for GitHub. Everything it
 * writes is under .mlops/demo/; the project's own working tree and branches are never touched.
 *
 *  1. database: migrate; seed 45 days of 1-minute readings; validate the pipelines against it
 *  2. week 1: retrain both pipelines; the first champions are promoted, merged and deployed
 *  3. a week of drift (impeller wear, a demand shift) arrives; week 2: retrain again
 *  4. a promotion: approve (merge) -> deploy -> roll back (git revert) -> deploy -> open again
 *  5. what it leaves: the experiment table, the registry, the promotion ready for review
 * and, for the classification task, a credit-risk story (scripts/demo-credit.ts): applications
 * whose default is known 30 days later, the first champion, a retrain inside the cooldown skipped
 * before training, a challenger rejected and one promoted on the classification gates, and a
 * month on the late outcomes loaded by `labels import`: label coverage and the champion's live
 * accuracy.
 *
 * `npm run demo` shows both tasks; `npm run demo -- --task regression` (or classification) one.
 * With DATABASE_URL set, the same runs against that PostgreSQL server.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { openMigratedDb, type Db } from '../actions/lib/db/index.ts';
import { ensureCreditTables, ensureReadingsTable, seedReadings } from '../actions/lib/demo-data/index.ts';
import { formatIssue, validatePipelines } from '../actions/lib/config/validate.ts';
import { checkSource } from '../actions/lib/source/check.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import type { RetrainResult } from '../actions/lib/retrain/result.ts';
import { gateTable, metricTable } from '../actions/lib/report/markdown.ts';
import { fmtMetric, fmtInt } from '../actions/lib/report/format.ts';
import { bodyPreview } from '../actions/lib/report/pr-body.ts';
import { metricValue } from '../actions/lib/evaluate/metrics.ts';
import { openPromotion, type OpenPromotionResult } from '../actions/lib/promotion/open.ts';
import { prepareScratchClone } from '../actions/lib/promotion/local.ts';
import { Git } from '../actions/lib/git/git.ts';
import { mergePromotionBranch, revertMerge } from '../actions/lib/promotion/merge.ts';
import { deploy, currentDeployments } from '../actions/lib/deploy/index.ts';
import { readRegistry } from '../actions/lib/registry/champion.ts';
import { headlineMetrics } from '../actions/lib/registry/schema.ts';
import { listRuns } from '../actions/lib/tracking/runs.ts';
import { runDailyMonitoring } from '../actions/lib/monitoring/index.ts';
import { scorePipelines } from '../actions/lib/score/index.ts';
import type { LoadedPipeline } from '../actions/lib/config/load.ts';
import type { Task } from '../actions/lib/config/schema.ts';
import { creditStory, seedCreditDemo } from './demo-credit.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const ROOT = resolve('.mlops/demo');
const ORIGIN = join(ROOT, 'origin.git');
const CHECKOUT = join(ROOT, 'checkout');
const RUNS = join(ROOT, 'runs');
const START = new Date('2026-09-27T00:00:00Z');
const WEEK1 = new Date(START.getTime() + 45 * DAY_MS); // 2026-11-11
const WEEK2 = new Date(WEEK1.getTime() + 7 * DAY_MS);
const WEEK3 = new Date(WEEK1.getTime() + 14 * DAY_MS);
const t0 = performance.now();

/** `--task regression|classification`: one story; both by default. */
function selectedTasks(argv: string[]): Task[] {
  const i = argv.indexOf('--task');
  if (i < 0) return ['regression', 'classification'];
  const v = argv[i + 1];
  if (v !== 'regression' && v !== 'classification')
    throw new Error(`--task: expected regression or classification, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  return [v];
}
const TASKS = selectedTasks(process.argv.slice(2));

const rel = (p: string): string => relative(process.cwd(), p) || '.';
const say = (line = ''): void => console.log(line);
const step = (title: string): void => say(`\n== ${title}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
const indent = (text: string): string =>
  text
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');

const DEMO_IDENTITY = Git.identityEnv({ name: 'demo', email: 'demo@example.invalid' });

/** The demo's GitHub: a bare repository holding pipelines/ and registry/, and a checkout of main. */
async function createDemoRepository(): Promise<void> {
  mkdirSync(ROOT, { recursive: true });
  const root = new Git(ROOT);
  await root.run(['init', '--quiet', '--bare', '--initial-branch=main', ORIGIN]);
  const seedDir = join(ROOT, 'seed-tree');
  mkdirSync(seedDir, { recursive: true });
  const seed = new Git(seedDir);
  await seed.run(['init', '--quiet', '--initial-branch=main']);
  cpSync('pipelines', join(seedDir, 'pipelines'), { recursive: true });
  mkdirSync(join(seedDir, 'registry'), { recursive: true });
  cpSync('registry/production.json', join(seedDir, 'registry/production.json'));
  cpSync('registry/production.schema.json', join(seedDir, 'registry/production.schema.json'));
  writeFileSync(join(seedDir, 'README.md'), "# pump station models\n\nThe demo's GitOps repository: pipelines and the production registry.\n");
  await seed.run(['add', '-A']);
  await seed.run(['commit', '--quiet', '-m', 'Pipelines and an empty registry'], { env: DEMO_IDENTITY });
  await seed.run(['push', '--quiet', ORIGIN, 'main']);
  rmSync(seedDir, { recursive: true, force: true });
  await root.run(['clone', '--quiet', ORIGIN, CHECKOUT]);
}

async function pullCheckout(): Promise<string> {
  const checkout = new Git(CHECKOUT);
  await checkout.run(['pull', '--quiet', '--ff-only', 'origin', 'main']);
  return checkout.run(['rev-parse', 'HEAD']);
}

function printDecision(r: RetrainResult): void {
  const c = r.scores.challenger?.metrics;
  const mark = r.decision === 'promote' ? '✅ promote' : r.decision === 'reject' ? '❌ reject' : '⏭️  skip';
  say(
    `\n-- ${r.pipeline}: ${mark}${c ? `  (${r.primary_metric} ${fmtMetric(metricValue(c, r.primary_metric))} on ${fmtInt(r.holdout?.rows ?? 0)} holdout rows)` : ''}`,
  );
  for (const reason of r.reasons) say(`   ${reason}`);
  if (r.scores.challenger) say(indent(metricTable(r.scores, r.primary_metric, r.holdout?.rows ?? null)));
  if (r.gates.length) say(indent(gateTable(r.gates)));
  say(`   report: ${rel(join(r.lineage.run_dir, 'report.md'))}`);
}

async function retrainAll(db: Db, asOf: Date, pipelines: { file: string; config: Parameters<typeof retrain>[1]['pipeline'] }[]): Promise<RetrainResult[]> {
  const results: RetrainResult[] = [];
  for (const { file, config } of pipelines) {
    const r = await retrain(db, { pipeline: config, pipelineFile: file, asOf, runsDir: RUNS, repoDir: CHECKOUT, trigger: 'schedule' });
    printDecision(r);
    results.push(r);
  }
  return results;
}

/** Merges the promotion at `at` on the demo's clock (its promotion time: what the cooldown and the staleness count from) and deploys it. */
async function approveAndDeploy(db: Db, opened: OpenPromotionResult, pullNumber: number, at: Date): Promise<string> {
  const clone = await prepareScratchClone(ORIGIN, ROOT);
  const merged = await mergePromotionBranch({
    at,
    git: clone,
    base: 'main',
    branch: `mlops/promote/${opened.model}`,
    localBranch: true,
    pullNumber,
    owner: 'plant',
    title: opened.title,
  });
  if (merged.outcome !== 'merged') throw new Error(`merge of ${opened.model} conflicted in ${merged.files.join(', ')}`);
  say(`   merged as ${merged.merge.slice(0, 10)} (the approval)`);
  await deployMain(db);
  return merged.merge;
}

async function deployMain(db: Db): Promise<void> {
  const sha = await pullCheckout();
  const d = await deploy(db, CHECKOUT, { ref: sha });
  for (const m of d.models)
    say(`   deploy ${sha.slice(0, 10)}: ${m.model} ${m.outcome} v${m.version}${m.previousVersion ? ` (was v${m.previousVersion})` : ''}`);
}

function registryState(): string {
  const reg = readRegistry(CHECKOUT);
  const models = Object.entries(reg.models);
  return models.length
    ? models
        .map(
          ([n, e]) =>
            `${n} v${e.version} (${headlineMetrics(e)
              .map((m) => `${m.name} ${fmtMetric(m.value)}`)
              .join(', ')}, run ${e.run_id})`,
        )
        .join('; ')
    : 'empty';
}

async function main(): Promise<void> {
  rmSync(ROOT, { recursive: true, force: true });
  say(
    `gitops-mlops demo: ${TASKS.length === 2 ? 'the weekly retrain of a pump station (regression) and of a credit-risk model (classification)' : TASKS[0] === 'regression' ? 'the weekly retrain of a pump station, end to end' : 'the weekly retrain of a credit-risk model with delayed labels'}`,
  );

  step('1. database, data, pipelines');
  const { db, migrations: m } = await openMigratedDb({ dataDir: join(ROOT, 'db') });
  try {
    say(
      `   database: ${db.location} (${db.backend}); ${m.applied.length > 0 ? `migrations applied: ${m.applied.join(', ')}` : `all ${m.alreadyApplied.length} migrations in place`}`,
    );
    if (TASKS.includes('regression')) {
      const seeded = await seedReadings(db, { days: 45, stations: 1, seed: 42, start: START });
      say(
        `   seeded ${fmtInt(seeded.rows)} 1-minute readings of ${seeded.stations.join(', ')} into ${seeded.table}, ${seeded.start.toISOString().slice(0, 10)} -> ${seeded.end.toISOString().slice(0, 10)}`,
      );
    }
    // Every demo table exists whatever the task shown, so every pipeline file validates.
    await ensureReadingsTable(db);
    await ensureCreditTables(db);
    if (TASKS.includes('classification')) say(`   ${await seedCreditDemo(db, WEEK1)}`);
    const { pipelines: all, errors } = await validatePipelines('pipelines', { checkSource: (s) => checkSource(db, s) });
    for (const e of errors) say(`   ${formatIssue(e)}`);
    if (errors.length) throw new Error('the pipelines do not validate against the demo tables');
    say(`   pipelines: ${all.map((p) => `${p.config.name} (${p.config.task}, ${p.file})`).join(', ')}`);
    await createDemoRepository();
    say(`   the demo's GitHub: ${rel(ORIGIN)} (bare), main checked out in ${rel(CHECKOUT)}`);
    const ofTask = (task: Task): LoadedPipeline[] => all.filter((p) => p.config.task === task);

    let ready: OpenPromotionResult | null = null;
    if (TASKS.includes('regression')) ready = await pumpStory(db, ofTask('regression'));
    if (TASKS.includes('classification')) {
      const credit = ofTask('classification');
      const opened = await creditStory({
        db,
        pipelines: credit,
        week1: WEEK1,
        runsDir: RUNS,
        checkout: CHECKOUT,
        origin: ORIGIN,
        root: ROOT,
        say,
        step: (title) => step(title),
        rel,
        indent,
        printDecision,
        approveAndDeploy: (o, at) => approveAndDeploy(db, o, nextPr++, at),
      });
      ready ??= opened;
    }

    step(`${TASKS.length === 2 ? 'C6' : '6'}. where things are`);
    const runs = await listRuns(db, { limit: 20 });
    say('   runs (newest first):');
    for (const r of runs) {
      const h = (r.metrics?.holdout ?? null) as Record<string, number | null> | null;
      const metric = h && 'f1' in h ? 'f1' : 'rmse';
      say(
        `     ${r.run_id}  ${r.pipeline.padEnd(20)} ${(r.decision ?? r.status).padEnd(8)} ${h?.[metric] != null ? `${metric} ${fmtMetric(h[metric])}` : '(nothing trained)'}`,
      );
    }
    const deployed = await currentDeployments(db);
    say(`   deployed: ${deployed.map((d) => `${d.model} v${d.version} (${d.kind})`).join(', ') || 'nothing'}`);
    if (ready && ready.mode === 'local') {
      say(`   ready for review: ${ready.title}`);
      say(`     branch mlops/promote/${ready.model} in ${rel(ready.clone)}; body ${rel(ready.bodyFile)}`);
      say(indent(bodyPreview(readFileSync(ready.bodyFile, 'utf8'))));
    }
    say(`\n   database ${db.location}; runs ${rel(RUNS)}; try: npm run mlops -- runs list --data-dir ${rel(join(ROOT, 'db'))}`);
    say(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await db.close();
  }
}

let nextPr = 1;

/** The regression story (steps 2-5): returns the promotion left ready for review, if any. */
async function pumpStory(db: Db, pipelines: LoadedPipeline[]): Promise<OpenPromotionResult | null> {
  step(`2. week 1: retrain as of ${WEEK1.toISOString().slice(0, 16)}Z (no champions yet)`);
  const week1 = await retrainAll(db, WEEK1, pipelines);
  for (const r of week1.filter((x) => x.decision === 'promote')) {
    const opened = await openPromotion(db, { runDir: r.lineage.run_dir, target: { kind: 'local', repository: ORIGIN, root: ROOT } });
    say(`\n   promotion: ${opened.title}`);
    await approveAndDeploy(db, opened, nextPr++, WEEK1); // approved as soon as the run is done
  }
  say(`   registry on main: ${registryState()}`);

  step('3. a week of drift arrives (impeller wear lowers pump efficiency; demand shifts)');
  const week2Data = await seedReadings(db, { days: 52, stations: 1, seed: 42, start: START, driftFrom: WEEK1 });
  say(`   readings now run to ${week2Data.end.toISOString().slice(0, 10)} (${fmtInt(week2Data.rows)} rows; the first 45 days unchanged)`);
  say(`   week 2: the weekly retrain as of ${WEEK2.toISOString().slice(0, 16)}Z against the champions on main`);
  await retrainAll(db, WEEK2, pipelines);

  step('4. another week of drift; the daily monitoring catches it');
  const drifted = await seedReadings(db, { days: 59, stations: 1, seed: 42, start: START, driftFrom: WEEK1 });
  say(`   readings now run to ${drifted.end.toISOString().slice(0, 10)} (${fmtInt(drifted.rows)} rows)`);
  const scored = await scorePipelines(
    db,
    pipelines.map((p) => p.config),
    { repoDir: CHECKOUT, asOf: WEEK3, sinceMs: 2 * 3_600_000 },
  );
  say(
    `   the hourly scoring of the deployed champions: ${scored.map((r) => `${r.pipeline} v${r.model_version ?? '-'} ${fmtInt(r.scored)} predictions`).join(', ')} in mlops.predictions`,
  );
  say(`   daily monitoring as of ${WEEK3.toISOString().slice(0, 16)}Z (no token: alerts go to the terminal and mlops.alerts)`);
  const watch = await runDailyMonitoring(db, { pipelines, repoDir: CHECKOUT, asOf: WEEK3, checks: ['drift', 'health'] });
  for (const d of watch.drift) {
    const r = d.result;
    if (!r) continue;
    const drifted = r.features.filter((f) => f.drifted);
    say(
      `\n-- drift of ${d.pipeline} (champion v${d.modelVersion}): ${drifted.length} of ${r.features.length} input columns drifted${r.datasetDrift ? ' -> dataset drift' : ''}`,
    );
    for (const f of r.features) {
      const p = f.ksPvalue ?? f.pvalue;
      say(
        `   ${f.drifted ? '⚠️ ' : '✅'} ${f.feature.padEnd(24)} ${f.test} ${Number((f.statistic ?? NaN).toPrecision(3))} (threshold ${f.threshold}); effect size ${Number((f.effectSize ?? NaN).toPrecision(3))}; KS p ${p === null || p === undefined ? 'n/a' : p === 0 ? '< 1e-300' : p < 1e-4 ? p.toExponential(1) : p.toFixed(4)}`,
      );
    }
  }
  for (const a of watch.alerts.raised) say(`   alert ${a.outcome}: [${a.severity}] ${a.key}: ${a.message.split('\n')[0].slice(0, 140)}`);
  for (const d of watch.dispatches) say(`   retrain dispatch (${d.outcome}): ${d.pipeline}: ${d.reason.slice(0, 140)}`);
  if (watch.drift.some((d) => d.result)) {
    const report = join(ROOT, 'drift-report.md');
    writeFileSync(report, watch.driftMarkdown);
    say(`   drift report: ${rel(report)}`);
  }

  say(`\n   the dispatched retrain runs as of ${WEEK3.toISOString().slice(0, 16)}Z against the champions on main`);
  const reasons = new Map(watch.dispatches.map((d) => [d.pipeline, d.reason]));
  const week3: RetrainResult[] = [];
  for (const { file, config } of pipelines) {
    const reason = reasons.get(config.name);
    const r = await retrain(db, {
      pipeline: config,
      pipelineFile: file,
      asOf: WEEK3,
      runsDir: RUNS,
      repoDir: CHECKOUT,
      trigger: reason ? 'repository_dispatch' : 'schedule',
      triggerReason: reason ?? null,
    });
    printDecision(r);
    week3.push(r);
  }

  step('5. promotion, approval, deploy, rollback');
  const candidate = week3.find((x) => x.decision === 'promote');
  let ready: OpenPromotionResult | null = null;
  if (!candidate) {
    say('   no challenger passed the gates this week: production stays as it is.');
  } else {
    const opened = await openPromotion(db, { runDir: candidate.lineage.run_dir, target: { kind: 'local', repository: ORIGIN, root: ROOT } });
    say(`   ${opened.title}`);
    say(`   pull request body: ${rel(opened.mode === 'local' ? opened.bodyFile : '')}`);
    const merge = await approveAndDeploy(db, opened, nextPr++, WEEK3);
    say(`   registry on main: ${registryState()}`);
    const clone = await prepareScratchClone(ORIGIN, ROOT);
    const reverted = await revertMerge({ git: clone, base: 'main', merge, at: new Date(WEEK3.getTime() + 3_600_000) });
    say(`   git revert -m 1 ${merge.slice(0, 10)} -> ${reverted.revert.slice(0, 10)} (the rollback)`);
    await deployMain(db);
    say(`   registry on main: ${registryState()}`);
    ready = await openPromotion(db, { runDir: candidate.lineage.run_dir, target: { kind: 'local', repository: ORIGIN, root: ROOT } });
    say(`   the challenger is up for review again: ${ready.title} (branch ${ready.mode === 'local' ? ready.branch.outcome : ready.outcome})`);
  }

  return ready;
}

await main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
