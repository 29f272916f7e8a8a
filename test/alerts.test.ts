import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { GitHubIssuesStandIn } from './helpers/github-issues-standin.ts';
import { promotionEntry } from './helpers/git.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { pipelineSchema } from '../actions/lib/config/schema.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { emptyRegistry } from '../actions/lib/registry/schema.ts';
import {
  ALERT_LABEL,
  closeAlertsOfDeployment,
  evaluateHealth,
  parseAlertMarker,
  postWebhook,
  runDailyMonitoring,
  syncAlerts,
  type RuleResult,
} from '../actions/lib/monitoring/index.ts';
import { gitHubTarget, type GitHubTarget } from '../actions/lib/github/client.ts';
import { startRun } from '../actions/lib/tracking/runs.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const TOKEN = 'ghs_alertsT0kenForTheStandIn0123456789';
const tank = loadPipelineFile('pipelines/tank-level-forecast.yaml');
const pump = loadPipelineFile('pipelines/pump-efficiency.yaml');

function rule(status: RuleResult['status'], message: string): RuleResult {
  return {
    pipeline: 'tank-level-forecast',
    rule: 'data-drift',
    status,
    severity: 'warning',
    message,
    details: { share: 0.8 },
    evidence: '| a | b |\n|---|---|\n| 1 | 2 |',
  };
}

/** A loopback webhook receiver answering from a script of statuses (then 200); 'hang' never answers. */
async function webhookServer(
  script: (number | 'hang')[],
): Promise<{ url: string; received: { body: unknown; type: string | undefined }[]; close(): Promise<void> }> {
  const received: { body: unknown; type: string | undefined }[] = [];
  const hanging: IncomingMessage[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), type: req.headers['content-type'] });
    const next = script.shift() ?? 200;
    if (next === 'hang') {
      hanging.push(req);
      return;
    }
    res.writeHead(next, { 'content-type': 'text/plain' });
    res.end(next < 300 ? 'ok' : 'nope');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/B000/abcdefghijklmnopqrstuvwx`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('webhook', () => {
  it('POSTs JSON, retries 5xx and gives up on other 4xx', async () => {
    const hook = await webhookServer([503, 502, 200]);
    try {
      const r = await postWebhook({ url: hook.url, backoffMs: 5 }, { text: 'hello' });
      expect(r).toEqual({ outcome: 'delivered', attempts: 3, status: 200, error: null });
      expect(hook.received).toHaveLength(3);
      expect(hook.received[0]).toEqual({ body: { text: 'hello' }, type: 'application/json' });
    } finally {
      await hook.close();
    }
    const bad = await webhookServer([400]);
    try {
      const r = await postWebhook({ url: bad.url, backoffMs: 5 }, { text: 'x' });
      expect(r).toMatchObject({ outcome: 'failed', attempts: 1, status: 400 });
    } finally {
      await bad.close();
    }
  });

  it('times out an attempt that gets no answer, retries it, and never prints the URL secret', async () => {
    const hook = await webhookServer(['hang', 'hang']);
    try {
      const t0 = Date.now();
      const r = await postWebhook({ url: hook.url, timeoutMs: 150, retries: 1, backoffMs: 5 }, { text: 'x' });
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(r.outcome).toBe('failed');
      expect(r.attempts).toBe(2);
      expect(r.error).toMatch(/^no answer within 150 ms \(after 2 attempts to http:\/\/127\.0\.0\.1:\d+\/hooks\/T000\/B000\/\*\*\*\)$/);
      expect(r.error).not.toContain('abcdefghijklmnop');
    } finally {
      await hook.close();
    }
  });
});

describeDb('alerts with a lifecycle', ({ db }) => {
  let gh: GitHubIssuesStandIn;
  let target: GitHubTarget;
  let work: string;
  beforeAll(async () => {
    gh = await GitHubIssuesStandIn.start({ token: TOKEN, prefix: '/api/v3' });
    target = gitHubTarget({ token: TOKEN, repository: 'plant/ops', apiUrl: gh.baseUrl, paceWrites: false, retries: 0 })!;
    work = mkdtempSync(join(tmpdir(), 'mlops-alerts-'));
  });
  afterAll(async () => {
    await gh.close();
    rmSync(work, { recursive: true, force: true });
  });
  afterEach(() => {
    // every request was a documented operation with a valid body
    expect(gh.violations).toEqual([]);
    expect(gh.requests.filter((r) => !r.operationId)).toEqual([]);
    gh.reset();
  });
  const alertRows = async (key: string) =>
    (
      await db().query<{ status: string; occurrences: number; issue_number: number | null; message: string }>(
        'SELECT status, occurrences, issue_number, message FROM mlops.alerts WHERE alert_key = $1 ORDER BY id',
        [key],
      )
    ).rows;

  it('opens an alert: a row in mlops.alerts and one labelled issue with the key in a hidden marker', async () => {
    const hook = await webhookServer([]);
    try {
      const [c] = await syncAlerts(db(), [rule('firing', 'tank-level-forecast: 4 of 5 input columns drifted')], {
        asOf: new Date('2026-12-01T01:00:00Z'),
        github: target,
        webhook: { url: hook.url },
      });
      expect(c).toMatchObject({ key: 'tank-level-forecast/data-drift', outcome: 'opened', occurrences: 1, issue: { number: 1, outcome: 'opened' } });
      expect(c.delivery).toEqual({ github: 'sent', webhook: 'sent', errors: [] });
      expect(gh.issues).toHaveLength(1);
      expect(gh.issues[0].labels).toEqual([ALERT_LABEL]);
      expect(parseAlertMarker(gh.issues[0].body)).toBe('tank-level-forecast/data-drift');
      expect(gh.issues[0].title).toBe('[mlops] tank-level-forecast: dataset drift');
      expect(gh.issues[0].body).toContain('4 of 5 input columns drifted');
      expect(await alertRows('tank-level-forecast/data-drift')).toEqual([
        { status: 'open', occurrences: 1, issue_number: 1, message: 'tank-level-forecast: 4 of 5 input columns drifted' },
      ]);
      expect(hook.received).toHaveLength(1);
      expect(hook.received[0].body).toMatchObject({
        text: expect.stringContaining('tank-level-forecast'),
        alert: { outcome: 'opened', issue_url: 'https://github.test/plant/ops/issues/1' },
      });
    } finally {
      await hook.close();
    }
  });

  it('updates the open alert and its issue on the next runs, never opening a second one', async () => {
    for (const [i, day] of ['2026-12-02', '2026-12-03'].entries()) {
      const [c] = await syncAlerts(db(), [rule('firing', `tank-level-forecast: ${3 + i} of 5 input columns drifted`)], {
        asOf: new Date(`${day}T01:00:00Z`),
        github: target,
      });
      expect(c).toMatchObject({ outcome: 'updated', occurrences: 2 + i, issue: { number: 1, outcome: 'updated' } });
    }
    expect(gh.issues).toHaveLength(1);
    expect(gh.issues[0].body).toContain('4 of 5 input columns drifted');
    expect(gh.issues[0].body).toContain('| occurrences | 3 |');
    expect(gh.writes().map((w) => w.operationId)).toEqual(['issues/update', 'issues/update']);
    expect(gh.requests.filter((r) => r.method === 'GET').every((r) => r.query.labels === ALERT_LABEL && r.query.state === 'open')).toBe(true);
    expect(await alertRows('tank-level-forecast/data-drift')).toHaveLength(1);
  });

  it('closes the issue with a comment when the rule clears, and a clear with nothing open changes nothing', async () => {
    const [c] = await syncAlerts(db(), [rule('ok', 'tank-level-forecast: 0 of 5 input columns drifted')], {
      asOf: new Date('2026-12-04T01:00:00Z'),
      github: target,
    });
    expect(c).toMatchObject({ outcome: 'resolved', issue: { number: 1, outcome: 'closed' } });
    expect(gh.issues[0]).toMatchObject({ state: 'closed', stateReason: 'completed' });
    expect(gh.issues[0].comments.map((x) => x.body)).toEqual([
      '✅ Resolved at 2026-12-04T01:00:00.000Z (open since 2026-12-01T01:00:00.000Z): tank-level-forecast: 0 of 5 input columns drifted',
    ]);
    expect((await alertRows('tank-level-forecast/data-drift')).map((r) => r.status)).toEqual(['resolved']);
    gh.reset();
    const [again] = await syncAlerts(db(), [rule('ok', 'still fine')], { asOf: new Date('2026-12-05T01:00:00Z'), github: target });
    expect(again).toMatchObject({ outcome: 'unchanged', issue: null });
    expect(gh.writes()).toEqual([]);
  });

  it('an unknown rule leaves its alert alone; a new firing after a close opens a new issue', async () => {
    const [u] = await syncAlerts(db(), [rule('unknown', 'no champion')], { asOf: new Date('2026-12-06T01:00:00Z'), github: target });
    expect(u.outcome).toBe('unchanged');
    expect(gh.requests).toEqual([]);
    const [c] = await syncAlerts(db(), [rule('firing', 'drifted again')], { asOf: new Date('2026-12-07T01:00:00Z'), github: target });
    expect(c).toMatchObject({ outcome: 'opened', issue: { number: 2, outcome: 'opened' } });
    expect(gh.issues.map((i) => i.state)).toEqual(['closed', 'open']);
    expect((await alertRows('tank-level-forecast/data-drift')).map((r) => r.status)).toEqual(['resolved', 'open']);
  });

  it('a failed GitHub call is reported on the alert, the row is kept, and the next run catches up', async () => {
    const r: RuleResult = { ...rule('firing', 'quality failed'), rule: 'data-quality' };
    gh.fault({ method: 'POST', path: /\/issues$/, status: 422, body: { message: 'Validation Failed' } });
    const [c] = await syncAlerts(db(), [r], { asOf: new Date('2026-12-07T02:00:00Z'), github: target });
    expect(c.outcome).toBe('opened');
    expect(c.delivery.github).toBe('failed');
    expect(c.delivery.errors[0]).toMatch(/^GitHub: HTTP 422: /);
    expect(c.delivery.errors[0]).not.toContain(TOKEN);
    const [next] = await syncAlerts(db(), [r], { asOf: new Date('2026-12-08T02:00:00Z'), github: target });
    expect(next).toMatchObject({ outcome: 'updated', issue: { outcome: 'opened' } });
    expect(gh.issues.filter((i) => parseAlertMarker(i.body) === 'tank-level-forecast/data-quality')).toHaveLength(1);
  });

  it('without a token alerts go to the terminal and the table only', async () => {
    const lines: string[] = [];
    const r: RuleResult = {
      ...rule('firing', 'pump-efficiency: the last retrain failed'),
      pipeline: 'pump-efficiency',
      rule: 'retrain-failed',
      severity: 'critical',
    };
    const [c] = await syncAlerts(db(), [r], { asOf: new Date('2026-12-08T03:00:00Z'), github: null, log: (l) => lines.push(l) });
    expect(c).toMatchObject({ outcome: 'opened', issue: null, delivery: { github: 'no-token', webhook: 'off' } });
    expect(lines).toEqual([
      'alert opened: [critical] pump-efficiency/retrain-failed: pump-efficiency: the last retrain failed (no GitHub token: terminal and mlops.alerts only)',
    ]);
    expect(gh.requests).toEqual([]);
    expect(await alertRows('pump-efficiency/retrain-failed')).toHaveLength(1);
  });

  it('health rules: metric rise week over week, no promotion for 3 runs, a failed last retrain', async () => {
    const p = pipelineSchema.parse({ ...pump, name: 'health-probe' });
    const runs: [string, string, 'succeeded' | 'failed', 'promote' | 'reject' | null, number | null][] = [
      ['h1', '2026-11-01', 'succeeded', 'promote', 0.1],
      ['h2', '2026-11-08', 'succeeded', 'reject', 0.1],
      ['h3', '2026-11-15', 'succeeded', 'reject', 0.105],
      ['h4', '2026-11-22', 'succeeded', 'reject', 0.125],
      ['h5', '2026-11-29', 'failed', null, null],
    ];
    for (const [id, day, status, decision, rmse] of runs) {
      await db().query(`INSERT INTO mlops.training_runs (run_id, pipeline, status, decision, as_of, error) VALUES ($1, $2, $3, $4, $5, $6)`, [
        id,
        p.name,
        status,
        decision,
        `${day}T02:00:00Z`,
        status === 'failed' ? 'trainer crashed' : null,
      ]);
      if (rmse !== null)
        await db().query(
          `INSERT INTO mlops.model_performance (run_id, model_type, model_name, rmse_val, promoted, training_date) VALUES ($1, 'gbdt', $2, $3, $4, $5)`,
          [id, p.name, rmse, decision === 'promote' ? 1 : 0, `${day}T02:00:00Z`],
        );
    }
    const h = await evaluateHealth(db(), p, { repoDir: work, asOf: new Date('2026-11-30T01:00:00Z') });
    const by = Object.fromEntries(h.rules.map((r) => [r.rule, r]));
    expect(by['metric-rise']).toMatchObject({
      status: 'firing',
      message: 'health-probe: rmse 0.105 (2026-11-15) -> 0.125 (2026-11-22), +19.0% week over week (alert above +15%)',
    });
    expect(by['not-promoted']).toMatchObject({
      status: 'firing',
      message: 'health-probe: no promotion in the last 3 runs (2026-11-22 reject, 2026-11-15 reject, 2026-11-08 reject)',
    });
    expect(by['retrain-failed']).toMatchObject({ status: 'firing', severity: 'critical' });
    expect(by['retrain-failed'].message).toContain('trainer crashed');
    expect(by['stale-champion'].status).toBe('unknown');
    expect(h.retrainReason).toBeNull();
    // One week earlier everything was fine.
    const earlier = await evaluateHealth(db(), p, { repoDir: work, asOf: new Date('2026-11-16T01:00:00Z') });
    expect(earlier.rules.filter((r) => r.status === 'firing')).toEqual([]);
  });

  it('a stale champion dispatches exactly one retrain within the cooldown, and alerts once', async () => {
    const repo = join(work, 'repo');
    writeRegistryEdit(
      repo,
      planRegistryEdit(emptyRegistry(), {
        model: 'tank-level-forecast',
        entry: promotionEntry('tank-level-forecast', 'run-old', 0.1),
        onnx: new Uint8Array([1, 2, 3]),
        card: {},
      }),
    );
    const day0 = new Date('2026-12-10T01:00:00Z'); // promoted 2026-11-22T02:30Z: 17.9 days old
    const lines: string[] = [];
    const run = (asOf: Date) =>
      runDailyMonitoring(db(), { pipelines: [tank], repoDir: repo, asOf, checks: ['health'], github: target, log: (l) => lines.push(l) });
    const first = await run(day0);
    expect(first.dispatches).toMatchObject([{ pipeline: 'tank-level-forecast', trigger: 'stale', outcome: 'dispatched' }]);
    // the dispatch names the alert it answers: its row in mlops.alerts and its issue
    const alert = (
      await db().query<{ id: string | number }>("SELECT id FROM mlops.alerts WHERE alert_key = 'tank-level-forecast/stale-champion' AND status = 'open'")
    ).rows[0];
    const issue = gh.issues.find((i) => parseAlertMarker(i.body) === 'tank-level-forecast/stale-champion')!;
    expect(gh.dispatches).toEqual([
      {
        event_type: 'retrain',
        client_payload: {
          pipeline: 'tank-level-forecast',
          reason: 'stale champion: champion v1 is 17.9 days old (promoted 2026-11-22), stale after 14 days, no model trained since',
          alert_id: Number(alert.id),
          alert_issue: `https://github.test/plant/ops/issues/${issue.number}`,
        },
      },
    ]);
    expect(first.alerts.raised.map((a) => [a.key, a.outcome, a.id])).toEqual([['tank-level-forecast/stale-champion', 'opened', Number(alert.id)]]);
    // Re-runs inside the cooldown (24 h): no second dispatch, the same issue updated.
    for (const hours of [1, 23]) {
      const again = await run(new Date(day0.getTime() + hours * 3_600_000));
      expect(again.dispatches).toMatchObject([{ outcome: 'cooldown', previous: { at: day0.toISOString(), outcome: 'dispatched' } }]);
      expect(again.alerts.raised.map((a) => a.outcome)).toEqual(['updated']);
    }
    expect(gh.dispatches).toHaveLength(1);
    expect(gh.issues.filter((i) => parseAlertMarker(i.body) === 'tank-level-forecast/stale-champion')).toHaveLength(1);
    const rows = (
      await db().query<{ outcome: string; delivered: boolean; trigger: string }>(
        "SELECT outcome, delivered, trigger FROM mlops.retrain_dispatches WHERE pipeline = 'tank-level-forecast'",
      )
    ).rows;
    expect(rows).toEqual([{ outcome: 'dispatched', delivered: true, trigger: 'stale' }]);
    // After the cooldown, still stale and nothing trained: dispatched again.
    const later = await run(new Date(day0.getTime() + 25 * 3_600_000));
    expect(later.dispatches[0].outcome).toBe('dispatched');
    expect(gh.dispatches).toHaveLength(2);
    // A model trained since the promotion clears the rule and closes the issue.
    await db().query(
      `INSERT INTO mlops.training_runs (run_id, pipeline, status, decision, as_of) VALUES ('fresh', 'tank-level-forecast', 'succeeded', 'reject', $1)`,
      [new Date(day0.getTime() + 26 * 3_600_000)],
    );
    const cleared = await run(new Date(day0.getTime() + 27 * 3_600_000));
    expect(cleared.dispatches).toEqual([]);
    expect(cleared.alerts.cleared.map((a) => [a.key, a.issue?.outcome])).toEqual([['tank-level-forecast/stale-champion', 'closed']]);
  });

  it('without a token the dispatch is recorded as not delivered and printed, once per cooldown', async () => {
    const repo = join(work, 'repo-local');
    writeRegistryEdit(
      repo,
      planRegistryEdit(emptyRegistry(), {
        model: 'pump-efficiency',
        entry: promotionEntry('pump-efficiency', 'run-old', 0.1),
        onnx: new Uint8Array([1, 2, 3]),
        card: {},
      }),
    );
    const lines: string[] = [];
    const asOf = new Date('2026-12-20T01:00:00Z');
    for (const t of [asOf, new Date(asOf.getTime() + 3_600_000)]) {
      await runDailyMonitoring(db(), { pipelines: [{ config: pump }], repoDir: repo, asOf: t, checks: ['health'], log: (l) => lines.push(l) });
    }
    const rows = (
      await db().query<{ outcome: string; delivered: boolean }>("SELECT outcome, delivered FROM mlops.retrain_dispatches WHERE pipeline = 'pump-efficiency'")
    ).rows;
    expect(rows).toEqual([{ outcome: 'no-token', delivered: false }]);
    expect(lines.filter((l) => l.startsWith('retrain of pump-efficiency recorded, not dispatched (no GitHub token)'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('retrain of pump-efficiency not dispatched: one was already recorded'))).toHaveLength(1);
    expect(gh.requests).toEqual([]);
  });

  it("the deploy of the promotion an alert's retrain produced resolves the alert and closes its issue; a rollback closes nothing", async () => {
    const repo = join(work, 'repo-answer');
    writeRegistryEdit(
      repo,
      planRegistryEdit(emptyRegistry(), {
        model: 'pump-efficiency',
        entry: promotionEntry('pump-efficiency', 'run-old', 0.1),
        onnx: new Uint8Array([1, 2, 3]),
        card: {},
      }),
    );
    const asOf = new Date('2026-12-28T01:00:00Z');
    const monitored = await runDailyMonitoring(db(), { pipelines: [{ config: pump }], repoDir: repo, asOf, checks: ['health'], github: target });
    const sent = gh.dispatches.at(-1)!.client_payload as { alert_id: number; alert_issue: string };
    expect(monitored.dispatches).toMatchObject([{ pipeline: 'pump-efficiency', outcome: 'dispatched' }]);
    // the retrain the dispatch started records the alert (the extract step's alert-id and alert-issue inputs)
    await startRun(db(), {
      runId: 'run-answer',
      pipeline: 'pump-efficiency',
      asOf,
      trigger: 'repository_dispatch',
      triggerReason: 'stale',
      forced: false,
      codeSha: null,
      workflowRunUrl: null,
      runDir: null,
      triggerAlert: { id: sent.alert_id, issueUrl: sent.alert_issue },
    });
    const issue = gh.issues.find((i) => `https://github.test/plant/ops/issues/${i.number}` === sent.alert_issue)!;
    expect(issue.state).toBe('open');
    gh.reset();

    const at = new Date('2026-12-29T09:00:00Z');
    const rollback = await closeAlertsOfDeployment(db(), [{ model: 'pump-efficiency', version: 1, kind: 'rollback', run_id: 'run-answer', pull_request: 9 }], {
      asOf: at,
      github: target,
    });
    expect(rollback).toEqual([]);
    const closed = await closeAlertsOfDeployment(db(), [{ model: 'pump-efficiency', version: 2, kind: 'deploy', run_id: 'run-answer', pull_request: 9 }], {
      asOf: at,
      github: target,
    });
    expect(closed).toEqual([
      {
        id: sent.alert_id,
        key: 'pump-efficiency/stale-champion',
        model: 'pump-efficiency',
        version: 2,
        outcome: 'resolved',
        issue: { number: issue.number, outcome: 'closed' },
        error: null,
      },
    ]);
    expect(issue).toMatchObject({ state: 'closed', stateReason: 'completed' });
    expect(issue.comments.at(-1)!.body).toBe(
      "✅ Resolved at 2026-12-29T09:00:00.000Z: pump-efficiency v2 (pull request #9), the promotion of run `run-answer` that this alert's retrain produced, is deployed.",
    );
    const row = (await db().query<{ status: string; resolved_at: Date }>('SELECT status, resolved_at FROM mlops.alerts WHERE id = $1', [sent.alert_id]))
      .rows[0];
    expect([row.status, new Date(row.resolved_at).toISOString()]).toEqual(['resolved', at.toISOString()]);
    expect(gh.violations).toEqual([]);
    // deploying again (a re-run) finds it resolved and calls GitHub no more
    gh.reset();
    expect(
      (
        await closeAlertsOfDeployment(db(), [{ model: 'pump-efficiency', version: 2, kind: 'deploy', run_id: 'run-answer', pull_request: 9 }], {
          asOf: at,
          github: target,
        })
      )[0].outcome,
    ).toBe('not-open');
    expect(gh.requests).toEqual([]);
  });
});

void DAY_MS;
