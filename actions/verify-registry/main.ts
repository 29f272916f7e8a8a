import { resolve } from 'node:path';
import { z } from 'zod';
import { describeFailures, verifyRegistry } from '../lib/deploy/index.ts';
import { changedPaths, readBlobAt, resolveCommit } from '../lib/git/read.ts';
import { parseRegistry, REGISTRY_FILE, type Registry } from '../lib/registry/schema.ts';
import { table } from '../lib/report/markdown.ts';
import {
  annotate,
  booleanInput,
  databaseInputs,
  optionalText,
  readInputs,
  runAction,
  setOutputs,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';
import { changedModels, checkClaims } from '../lib/deploy/claims.ts';

/**
 * verify-registry: registry/production.json at a commit: schema, every artifact present with its
 * sha256, loads in onnxruntime-node and scores a smoke sample. With check-claims, the entries that
 * changed against base-ref must also match the runs the tracking database recorded, read in a READ
 * ONLY transaction without migrating (a pull request's check never writes to production). With
 * only-if-changed, a pull request that does not touch registry/ is checked for nothing and passes.
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...databaseInputs,
    'repo-dir': z.string().trim().default('.'),
    ref: z.string().trim().default('HEAD'),
    'base-ref': optionalText(),
    'check-claims': booleanInput(false),
    'only-if-changed': booleanInput(false),
  });
  const repoDir = resolve(inputs.repoDir);
  if (inputs.onlyIfChanged && !inputs.baseRef)
    throw new Error("only-if-changed needs base-ref (the commit to compare with, e.g. HEAD^1 of a pull request's merge commit)");
  if (inputs.onlyIfChanged) {
    const paths = await changedPaths(repoDir, inputs.baseRef!, inputs.ref, 'registry');
    if (paths.length === 0) {
      const sha = await resolveCommit(repoDir, inputs.ref);
      setOutputs({ ok: true, changed: false, 'git-sha': sha, models: 0, failures: '[]' });
      await writeSummary(`### Registry check at \`${sha.slice(0, 12)}\`: nothing to check\n\nThis change does not touch \`registry/\`.`);
      return;
    }
  }
  const v = await verifyRegistry(repoDir, inputs.ref);
  const failures = describeFailures(v);

  let claimProblems: string[] = [];
  if (inputs.checkClaims && v.registry) {
    const base = inputs.baseRef ? await registryAt(repoDir, inputs.baseRef) : null;
    const head = v.registry;
    claimProblems = await withDatabase({ ...inputs, readOnly: true }, (db) =>
      db.transaction(
        async (tx) => {
          const problems: string[] = [];
          for (const m of changedModels(head, base)) problems.push(...(await checkClaims(tx, m, head.models[m])));
          return problems;
        },
        { readOnly: true },
      ),
    );
  }
  for (const f of [...failures, ...claimProblems]) annotate('error', f, { file: REGISTRY_FILE, title: 'registry check' });

  const ok = v.ok && claimProblems.length === 0;
  setOutputs({ ok, changed: true, 'git-sha': v.gitSha, models: v.entries.length, failures: JSON.stringify([...failures, ...claimProblems]) });
  await writeSummary(
    [
      `### Registry check at \`${v.gitSha.slice(0, 12)}\`: ${ok ? '✅ passed' : '❌ failed'}`,
      '',
      v.entries.length
        ? table(
            ['model', 'version', 'sha256', ''],
            v.entries.map((e) => [e.model, String(e.version ?? '?'), e.sha256?.slice(0, 12) ?? '?', e.ok ? '✅' : `❌ ${e.problem ?? ''}`]),
          )
        : '_no models_',
      ...(v.problem ? ['', `❌ ${v.problem}`] : []),
      ...(inputs.checkClaims
        ? [
            '',
            claimProblems.length
              ? `Claims against the recorded runs:\n\n${claimProblems.map((p) => `- ❌ ${p}`).join('\n')}`
              : 'Claims match the recorded runs ✅',
          ]
        : []),
    ].join('\n'),
  );
  if (!ok) throw new Error(`the registry at ${v.gitSha.slice(0, 12)} failed its check:\n${[...failures, ...claimProblems].map((f) => `  - ${f}`).join('\n')}`);
}

async function registryAt(repoDir: string, ref: string): Promise<Registry | null> {
  const bytes = await readBlobAt(repoDir, await resolveCommit(repoDir, ref), REGISTRY_FILE);
  return bytes ? parseRegistry(bytes.toString('utf8'), `${REGISTRY_FILE}@${ref}`) : null;
}

await runAction(main);
