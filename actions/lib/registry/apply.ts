import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { artifactFile } from './champion.ts';
import type { RegistryEditPlan } from './edit.ts';

/**
 * Writes a registry edit straight into a checkout, without git: for a scratch registry (tests,
 * experiments). Promotions to a real repository go through a branch and a pull request.
 */
export function writeRegistryEdit(repoDir: string, plan: RegistryEditPlan): void {
  for (const f of plan.files) {
    const file = artifactFile(repoDir, f.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, f.bytes);
  }
}
