import { resolve } from 'node:path';
import { z } from 'zod';
import { describeFailures, verifyRegistry } from '../lib/deploy/index.ts';
import { readBlobAt, resolveCommit } from '../lib/git/read.ts';
import { parseRegistry, REGISTRY_FILE, type Registry } from '../lib/registry/schema.ts';
import { table } from '../lib/report/markdown.ts';
import { annotate, booleanInput, databaseInputs, optionalText, readInputs, runAction, setOutputs, withDatabase, writeSummary } from '../lib/actions-io/index.ts';
import { changedModels, checkClaims } from '../lib/deploy/claims.ts';

/**
 * verify-registry: registry/production.json at a commit: schema, every artifact present with its
 * sha256, loads in onnxruntime-node and scores a smoke sample. With check-claims, the entries that
 * changed against base-ref must also match the runs the tracking database recorded.
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...databaseInputs,
    'repo-dir': z.string().trim().default('.'),
    ref: z.string().trim().default('HEAD'),
    'base-ref': optionalText(),
    'check-claims': booleanInput(false),
  });
  const repoDir = resolve(inputs.repoDir);
  const v = await verifyRegistry(repoDir, inputs.ref);
  const failures = describeFailures(v);

  let claimProblems: string[] = [];
  if (inputs.checkClaims && v.registry) {
    const base = inputs.baseRef ? await registryAt(repoDir, inputs.baseRef) : null;
    const head = v.registry;
    claimProblems = await withDatabase(inputs, async (db) =>
      (await Promise.all(changedModels(head, base).map((m) => checkClaims(db, m, head.models[m])))).flat());
  }
  for (const f of [...failures, ...claimProblems]) annotate('error', f, { file: REGISTRY_FILE, title: 'registry check' });

  const ok = v.ok && claimProblems.length === 0;
  setOutputs({ ok, 'git-sha': v.gitSha, models: v.entries.length, failures: JSON.stringify([...failures, ...claimProblems]) });
  await writeSummary([
    `### Registry check at \`${v.gitSha.slice(0, 12)}\`: ${ok ? '✅ passed' : '❌ failed'}`,
    '',
    v.entries.length ? table(['model', 'version', 'sha256', ''], v.entries.map((e) => [e.model, String(e.version ?? '?'), e.sha256?.slice(0, 12) ?? '?', e.ok ? '✅' : `❌ ${e.problem ?? ''}`])) : '_no models_',
    ...(v.problem ? ['', `❌ ${v.problem}`] : []),
    ...(inputs.checkClaims ? ['', claimProblems.length ? `Claims against the recorded runs:\n\n${claimProblems.map((p) => `- ❌ ${p}`).join('\n')}` : 'Claims match the recorded runs ✅'] : []),
  ].join('\n'));
  if (!ok) throw new Error(`the registry at ${v.gitSha.slice(0, 12)} failed its check:\n${[...failures, ...claimProblems].map((f) => `  - ${f}`).join('\n')}`);
}

async function registryAt(repoDir: string, ref: string): Promise<Registry | null> {
  const bytes = await readBlobAt(repoDir, await resolveCommit(repoDir, ref), REGISTRY_FILE);
  return bytes ? parseRegistry(bytes.toString('utf8'), `${REGISTRY_FILE}@${ref}`) : null;
}

await runAction(main);
