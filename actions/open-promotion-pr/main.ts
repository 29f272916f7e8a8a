import { resolve } from 'node:path';
import { z } from 'zod';
import type { PromotionTarget } from '../lib/promotion/promote.ts';
import { openPromotion } from '../lib/promotion/open.ts';
import { gitHubTarget, resolveGitHubToken } from '../lib/github/client.ts';
import {
  annotate,
  databaseInputs,
  info,
  maskSecret,
  openRun,
  optionalText,
  readInputs,
  runAction,
  runDirInput,
  setOutputs,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';

/**
 * open-promotion-pr: the registry edit of a promoted run on branch mlops/promote/<model>, and one
 * pull request per model opened or updated. Without a token (mode local, or auto with no token) the
 * branch is made in a scratch clone and the pull request's text written to a file.
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...runDirInput,
    ...databaseInputs,
    'github-token': optionalText(),
    mode: z.enum(['auto', 'github', 'local']).default('auto'),
    base: optionalText(),
    repository: optionalText(),
    'repo-dir': z.string().trim().default('.'),
    'local-root': z.string().trim().default('.'),
    'api-url': optionalText(),
  });
  const token = resolveGitHubToken(inputs.githubToken);
  maskSecret(token);
  const state = openRun(inputs.runDir);
  if (state.gate?.decision !== 'promote') {
    throw new Error(
      `run ${state.run_id} decided ${state.gate?.decision ?? 'nothing yet'}, not promote: run this step only when steps.gate.outputs.decision == 'promote'`,
    );
  }
  const mode = inputs.mode === 'auto' ? (token ? 'github' : 'local') : inputs.mode;
  if (mode === 'github' && !token)
    throw new Error(
      'mode github needs a token: pass github-token (a GitHub App or bot token, MLOPS_BOT_TOKEN, so the registry check runs on the pull request) or set GITHUB_TOKEN',
    );

  const github = mode === 'github' ? gitHubTarget({ token, repository: inputs.repository, apiUrl: inputs.apiUrl, log: info }) : null;
  const target: PromotionTarget = github
    ? { kind: 'github', github, workDir: resolve(inputs.repoDir) }
    : { kind: 'local', repository: resolve(inputs.repoDir), root: resolve(inputs.localRoot) };
  const result = await withDatabase(inputs, (db) => openPromotion(db, { runDir: inputs.runDir, target, base: inputs.base }));

  const pr = result.mode === 'github' ? result.pullRequest : null;
  for (const w of pr?.warnings ?? []) annotate('warning', w, { title: 'promotion pull request' });
  setOutputs({
    mode: result.mode,
    outcome: result.outcome,
    version: result.version,
    title: result.title,
    branch: `mlops/promote/${state.pipeline}`,
    'pull-request-number': pr?.number,
    'pull-request-url': pr?.url,
    'body-file': result.mode === 'local' ? result.bodyFile : undefined,
    'auto-merge': result.mode === 'github' ? result.autoMerge : 'off',
  });
  await writeSummary(
    [
      `### ${result.title} (${result.outcome})`,
      '',
      result.mode === 'github'
        ? `Pull request: ${pr?.url ?? 'n/a'}`
        : `Local mode (no token): branch \`mlops/promote/${state.pipeline}\` committed in the scratch clone \`${result.clone}\`; the pull request's text is in \`${result.bodyFile}\`.`,
    ].join('\n'),
  );
}

await runAction(main);
