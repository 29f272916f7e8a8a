import { resolve } from 'node:path';
import { openPromotion } from '../../actions/lib/promotion/open.ts';
import { ensurePullRequest } from '../../actions/lib/github/pulls.ts';
import {
  currentDeployments,
  deploy,
  deploymentsByCommit,
  describeFailures,
  prepareRollback,
  verifyRegistry,
  type DeploymentRow,
} from '../../actions/lib/deploy/index.ts';
import { registryHistory } from '../../actions/lib/registry/history.ts';
import { promotionTime } from '../../actions/lib/registry/promoted-at.ts';
import { closeAlertsOfDeployment } from '../../actions/lib/monitoring/index.ts';
import { readRegistry } from '../../actions/lib/registry/champion.ts';
import { headlineMetrics } from '../../actions/lib/registry/schema.ts';
import { DEFAULT_RUNS_DIR, runDirFor } from '../../actions/lib/retrain/run-dir.ts';
import { fmtMetric } from '../../actions/lib/report/format.ts';
import { command, type Command, num, UsageError } from '../cli.ts';
import { githubOf, githubOptions } from './github-options.ts';

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) =>
    r
      .map((c, i) => (c ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
}

export const gitopsCommands: Record<string, Command> = {
  promote: command({
    usage: '--run RUN_ID | --run-dir DIR [--repo .] [--base BRANCH] [--github-token T] [--repository owner/name] [--api-url URL]',
    options: {
      run: { type: 'string' },
      'run-dir': { type: 'string' },
      'runs-dir': { type: 'string' },
      repo: { type: 'string' },
      base: { type: 'string' },
      ...githubOptions,
    },
    async run(ctx) {
      const runId = ctx.values.run;
      const runDir = ctx.values['run-dir'] ?? (runId ? runDirFor(ctx.values['runs-dir'] ?? DEFAULT_RUNS_DIR, runId) : undefined);
      if (!runDir) throw new UsageError('--run RUN_ID or --run-dir DIR is required');
      const repo = resolve(ctx.values.repo ?? '.');
      const gh = githubOf(ctx.values);
      const r = await openPromotion(await ctx.db(), {
        runDir,
        base: ctx.values.base,
        target: gh ? { kind: 'github', github: gh, workDir: repo } : { kind: 'local', repository: repo },
      });
      if (ctx.values.json) return void ctx.json(r);
      ctx.out(`${r.title}`);
      if (r.mode === 'github') ctx.out(`pull request ${r.outcome}: ${r.pullRequest.url ?? `#${r.pullRequest.number}`}`);
      else {
        ctx.out(`branch ${r.branch.outcome}: mlops/promote/${r.model} at ${r.branch.commit.slice(0, 12)} in ${r.clone}`);
        ctx.out(`pull request body: ${r.bodyFile}`);
      }
    },
  }),
  deploy: command({
    usage: '[--ref SHA] [--branch main] [--repo .] [--github-token T --repository owner/name]',
    options: { ref: { type: 'string' }, branch: { type: 'string' }, repo: { type: 'string' }, ...githubOptions },
    async run(ctx) {
      const gh = githubOf(ctx.values);
      const db = await ctx.db();
      const r = await deploy(db, resolve(ctx.values.repo ?? '.'), {
        ref: ctx.values.ref ?? 'HEAD',
        branch: ctx.values.branch ?? 'main',
        github: gh,
      });
      // the alerts whose dispatched retrain this deploy put in production
      const closed = await closeAlertsOfDeployment(db, r.recorded, { asOf: new Date(), github: gh, log: (m) => ctx.out(m) });
      if (ctx.values.json) return void ctx.json({ ...r, closed_alerts: closed });
      ctx.out(`deploy of ${r.gitSha.slice(0, 12)}: ${r.outcome}`);
      for (const m of r.models)
        ctx.out(`  ${m.model}: ${m.outcome} v${m.version ?? '-'}${m.previousVersion ? ` (was v${m.previousVersion})` : ''}${m.note ? ` — ${m.note}` : ''}`);
      for (const row of r.recorded) ctx.out(`  ${row.model} v${row.version}: ${approvalLine(row)}`);
    },
  }),
  rollback: command({
    usage: '--model M [--to VERSION] [--base main] [--push] [--reason TEXT] [--repo .]',
    options: {
      model: { type: 'string' },
      to: { type: 'string' },
      base: { type: 'string' },
      push: { type: 'boolean' },
      reason: { type: 'string' },
      repo: { type: 'string' },
      ...githubOptions,
    },
    async run(ctx) {
      const model = ctx.values.model;
      if (!model) throw new UsageError('--model is required');
      const to = ctx.values.to === undefined ? undefined : num(ctx.values, 'to', 0, { integer: true, min: 1 });
      const repoDir = resolve(ctx.values.repo ?? '.');
      const base = ctx.values.base ?? 'main';
      const r = await prepareRollback(repoDir, {
        model,
        toVersion: to,
        base,
        push: Boolean(ctx.values.push),
        reason: ctx.values.reason,
      });
      let prUrl: string | null = null;
      const gh = !ctx.values.push ? githubOf(ctx.values) : null;
      if (gh && r.outcome !== 'pushed') {
        prUrl = (
          await ensurePullRequest(gh, {
            head: r.branch,
            base,
            title: r.title,
            body: r.body,
            labels: [r.direction === 'back' ? 'model-rollback' : 'model-roll-forward', `model:${model}`],
          })
        ).url;
      }
      if (ctx.values.json) return void ctx.json({ ...r, pull_request: prUrl });
      ctx.out(`${r.title}: ${r.outcome} (${r.branch} at ${r.commit.slice(0, 12)})`);
      if (prUrl) ctx.out(`pull request: ${prUrl}`);
      else if (r.outcome !== 'pushed') ctx.out(`open a pull request from ${r.branch} into ${base}, or re-run with --push to commit straight onto ${base}`);
    },
  }),
  'registry show': command({
    usage: '[--repo .]',
    options: { repo: { type: 'string' } },
    async run(ctx) {
      const repoDir = resolve(ctx.values.repo ?? '.');
      const reg = readRegistry(repoDir);
      const db = await ctx.db();
      const deployed = new Map((await currentDeployments(db)).map((d) => [d.model, d]));
      if (ctx.values.json) return void ctx.json({ registry: reg, deployed: Object.fromEntries(deployed) });
      const models = Object.entries(reg.models);
      if (models.length === 0) return void ctx.out('registry/production.json has no models yet');
      // promoted = merged: the deploy's record of the merge time, else git's (a version merged but not
      // deployed yet); never the entry's own promoted_at, written before anyone merged it
      const promoted = new Map<string, string>();
      for (const [name, e] of models) {
        const d = deployed.get(name);
        if (d && d.version === e.version && d.promoted_at) promoted.set(name, d.promoted_at);
        else {
          const t = await promotionTime(repoDir, name, e, { db });
          if (t.source !== 'registry file') promoted.set(name, t.at);
        }
      }
      for (const line of table(
        ['model', 'version', 'task', 'holdout metrics', 'promoted (merged)', 'pull request', 'run', 'sha256', 'deployed'],
        models.map(([name, e]) => {
          const d = deployed.get(name);
          const merged = d && d.version === e.version ? d : null;
          const pr = merged?.pull_request ?? e.pull_request?.number ?? null;
          return [
            name,
            `v${e.version}`,
            e.task ?? 'regression',
            headlineMetrics(e)
              .map((m) => `${m.name} ${fmtMetric(m.value)}`)
              .join(', '),
            promoted.get(name)?.slice(0, 16).replace('T', ' ') ?? 'no merge found',
            pr ? `#${pr}` : '',
            e.run_id,
            e.artifact.sha256.slice(0, 12),
            d ? `v${d.version} (${d.kind} ${d.git_sha.slice(0, 7)})` : 'not yet',
          ];
        }),
      ))
        ctx.out(line);
    },
  }),
  'registry history': command({
    usage: '[--model M] [--ref main] [--repo .] [--no-db]',
    options: { model: { type: 'string' }, ref: { type: 'string' }, repo: { type: 'string' }, 'no-db': { type: 'boolean' } },
    async run(ctx) {
      const h = await registryHistory(resolve(ctx.values.repo ?? '.'), { model: ctx.values.model, ref: ctx.values.ref ?? 'HEAD' });
      // what the deploys recorded of each commit (GitHub's merger and approvers when it had a token);
      // --no-db: git's word alone (the merge commit's author and date)
      const deployed = ctx.values['no-db']
        ? new Map<string, DeploymentRow>()
        : await deploymentsByCommit(
            await ctx.db(),
            h.map((r) => r.commit),
          );
      const records = h.map((r) => ({ ...r, deployment: deployed.get(r.commit) ?? null }));
      if (ctx.values.json) return void ctx.json(records);
      if (records.length === 0) return void ctx.out('no registry changes in git history yet');
      for (const line of table(
        ['when (merged)', 'commit', 'kind', 'changes', 'pull request', 'merged by', 'approved by', 'why'],
        records.map((r) => [
          (r.deployment?.promoted_at ?? r.date).slice(0, 16).replace('T', ' '),
          r.commit.slice(0, 10),
          r.kind,
          r.changes.map((c) => `${c.model} ${c.from ? `v${c.from}` : '-'} -> ${c.to ? `v${c.to}` : '-'}`).join(', '),
          r.pullRequest ? `#${r.pullRequest}` : '',
          r.deployment?.merged_by ?? `${r.author.name} <${r.author.email}>`,
          r.deployment ? r.deployment.approved_by.join(', ') || (r.deployment.approval_source === 'github' ? 'none (the merge)' : '-') : '-',
          (r.deployment?.reason ?? r.reason).slice(0, 70),
        ]),
      ))
        ctx.out(line);
    },
  }),
  'registry verify': command({
    usage: '[--ref HEAD] [--repo .]',
    options: { ref: { type: 'string' }, repo: { type: 'string' } },
    async run(ctx) {
      const v = await verifyRegistry(resolve(ctx.values.repo ?? '.'), ctx.values.ref ?? 'HEAD');
      if (ctx.values.json) ctx.json(v);
      else {
        for (const e of v.entries) ctx.out(`${e.ok ? 'ok  ' : 'FAIL'} ${e.model} v${e.version ?? '?'}${e.problem ? `: ${e.problem}` : ''}`);
        for (const line of v.ok ? [] : describeFailures(v)) console.error(line);
        if (v.ok) ctx.out(`registry at ${v.gitSha.slice(0, 12)}: ${v.entries.length} model(s) verified`);
      }
      return v.ok ? 0 : 1;
    },
  }),
};

/** Who merged and approved a recorded deployment, and how its reviewed run was checked, as one line. */
function approvalLine(row: DeploymentRow): string {
  const pr = row.pull_request ? `pull request #${row.pull_request}` : 'no pull request';
  const approved = row.approved_by.length ? `, approved by ${row.approved_by.join(', ')}` : '';
  return `${pr}, merged by ${row.merged_by ?? 'unknown'} at ${row.promoted_at ?? 'unknown'}${approved}; reviewed run check: ${row.review_check ?? 'none'}`;
}
