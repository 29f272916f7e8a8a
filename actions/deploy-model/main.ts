import { resolve } from 'node:path';
import { z } from 'zod';
import { deploy, DeployRefusedError, DeployVerificationError, RestoredEntryError, ReviewMismatchError } from '../lib/deploy/index.ts';
import { gitHubTarget } from '../lib/github/client.ts';
import { closeAlertsOfDeployment } from '../lib/monitoring/index.ts';
import { REGISTRY_FILE } from '../lib/registry/schema.ts';
import { table } from '../lib/report/markdown.ts';
import {
  annotate,
  databaseInputs,
  info,
  maskSecret,
  optionalText,
  readInputs,
  runAction,
  setOutputs,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';

/** deploy-model: verifies registry/production.json at a commit and records what runs (deploy, rollback, retire). */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...databaseInputs,
    'repo-dir': z.string().trim().default('.'),
    ref: z.string().trim().default('HEAD'),
    branch: z.string().trim().min(1).default('main'),
    'github-token': optionalText(),
    repository: optionalText(),
    'api-url': optionalText(),
  });
  maskSecret(inputs.githubToken);
  // A token reads who merged and approved from GitHub; without one the merge commit says what it can.
  const github = inputs.githubToken ? gitHubTarget({ token: inputs.githubToken, repository: inputs.repository, apiUrl: inputs.apiUrl, log: info }) : null;
  await withDatabase(inputs, async (db) => {
    let result;
    try {
      result = await deploy(db, resolve(inputs.repoDir), { ref: inputs.ref, branch: inputs.branch, github });
    } catch (err) {
      if (err instanceof DeployVerificationError) for (const f of err.failures) annotate('error', f, { file: REGISTRY_FILE, title: 'deploy refused' });
      if (err instanceof DeployRefusedError) annotate('error', err.message, { title: 'deploy refused' });
      if (err instanceof ReviewMismatchError)
        for (const p of err.problems) annotate('error', p, { file: REGISTRY_FILE, title: 'deploy refused: not what was reviewed' });
      if (err instanceof RestoredEntryError)
        for (const p of err.problems) annotate('error', p, { file: REGISTRY_FILE, title: 'deploy refused: not a version that ran before' });
      throw err;
    }
    // the alerts whose dispatched retrain this deploy put in production are resolved, their issues closed
    const closed = await closeAlertsOfDeployment(db, result.recorded, { asOf: new Date(), github, log: info });
    for (const c of closed.filter((x) => x.error))
      annotate('warning', `alert ${c.id}: its issue #${c.issue?.number} could not be closed: ${c.error}`, { title: 'alert not closed' });
    const changed = result.models.filter((m) => m.outcome !== 'unchanged');
    setOutputs({
      outcome: result.outcome,
      'git-sha': result.gitSha,
      deployed: JSON.stringify(result.models.map((m) => ({ model: m.model, outcome: m.outcome, version: m.version, previous_version: m.previousVersion }))),
      rollbacks: changed.filter((m) => m.outcome === 'rollback').length,
      'closed-alerts': JSON.stringify(closed.map((c) => ({ id: c.id, key: c.key, outcome: c.outcome, issue: c.issue }))),
    });
    for (const m of changed.filter((x) => x.outcome === 'rollback'))
      annotate('warning', `${m.model} rolled back from v${m.previousVersion} to v${m.version}`, { title: 'rollback recorded' });
    await writeSummary(
      [
        `### Deploy of \`${result.gitSha.slice(0, 12)}\`: ${result.outcome}`,
        '',
        result.models.length
          ? table(
              ['model', 'outcome', 'version', 'previous', 'note'],
              result.models.map((m) => [m.model, m.outcome, `v${m.version}`, m.previousVersion === null ? '' : `v${m.previousVersion}`, m.note ?? '']),
            )
          : '_the registry has no models_',
        ...(result.recorded.length
          ? [
              '',
              table(
                ['model', 'version', 'pull request', 'merged by', 'promoted (merged) at', 'approved by', 'reviewed run checked'],
                result.recorded.map((r) => [
                  r.model,
                  `v${r.version}`,
                  r.pull_request ? (r.pull_request_url ? `[#${r.pull_request}](${r.pull_request_url})` : `#${r.pull_request}`) : '',
                  r.merged_by ?? '',
                  r.promoted_at ?? '',
                  r.approved_by.join(', '),
                  r.review_check ?? '',
                ]),
              ),
            ]
          : []),
        ...(closed.length
          ? [
              '',
              ...closed.map(
                (c) =>
                  `- Alert ${c.id} (\`${c.key ?? '?'}\`): ${c.outcome}, answered by ${c.model} v${c.version}${c.issue ? `; issue #${c.issue.number} ${c.issue.outcome}` : ''}`,
              ),
            ]
          : []),
      ].join('\n'),
    );
  });
}

await runAction(main);
