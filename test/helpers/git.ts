import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Git } from '../../actions/lib/git/git.ts';
import type { PromotedEntry } from '../../actions/lib/registry/edit.ts';

/**
 * Real git for the promotion tests: a bare repository as `origin` (with a hook that logs every
 * push it receives), seeded with a `main` branch, and work clones of it. Everything lives under
 * one temp directory per suite; the tests never touch the project's own repository.
 */

// Keep the machine's and the user's git configuration (signing, hooks, default branch) out.
process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';

export const SEED_AUTHOR = { name: 'Seed', email: 'seed@example.test' };

export interface Sandbox {
  root: string;
  /** path of the bare repository */
  origin: string;
  /** a fresh clone of origin under the sandbox */
  clone(name: string): Promise<Git>;
  /** commits `files` onto origin's main (through a clone) and returns the new sha */
  commitToMain(files: Record<string, string | Uint8Array | null>, message: string): Promise<string>;
  /** ref -> sha of every branch on origin */
  originRefs(): Promise<Record<string, string>>;
  /** the ref updates origin received (one line per ref per push) */
  pushLog(): string[];
  cleanup(): void;
}

export async function createSandbox(initial: Record<string, string | Uint8Array>, prefix = 'mlops-promotion-'): Promise<Sandbox> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const origin = join(root, 'origin.git');
  const rootGit = new Git(root);
  await rootGit.run(['init', '--quiet', '--bare', '--initial-branch=main', origin]);
  const log = join(root, 'push.log');
  const hook = join(origin, 'hooks', 'pre-receive');
  writeFileSync(hook, `#!/bin/sh\nwhile read old new ref; do echo "$ref $old $new" >> '${log}'; done\nexit 0\n`);
  chmodSync(hook, 0o755);

  let clones = 0;
  const clone = async (name: string): Promise<Git> => {
    const dir = join(root, `${name}-${++clones}`);
    await rootGit.run(['clone', '--quiet', origin, dir]);
    return new Git(dir);
  };

  const seed = new Git(join(root, 'seed'));
  await rootGit.run(['init', '--quiet', '--initial-branch=main', seed.dir]);
  await seed.run(['remote', 'add', 'origin', origin]);

  const commitToMain = async (files: Record<string, string | Uint8Array | null>, message: string): Promise<string> => {
    if ((await seed.exec(['ls-remote', '--exit-code', '--heads', 'origin', 'main'])).code === 0) {
      await seed.run(['fetch', '--quiet', 'origin', 'main']);
      await seed.run(['checkout', '--quiet', '--force', '-B', 'main', 'origin/main']);
    }
    for (const [path, content] of Object.entries(files)) {
      const full = join(seed.dir, path);
      if (content === null) {
        await seed.run(['rm', '--quiet', '-f', '--', path]);
        continue;
      }
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
      await seed.run(['add', '--', path]);
    }
    await seed.run(['commit', '--quiet', '--allow-empty', '-m', message], { env: Git.identityEnv(SEED_AUTHOR) });
    await seed.run(['push', '--quiet', 'origin', 'HEAD:refs/heads/main']);
    return seed.run(['rev-parse', 'HEAD']);
  };

  await commitToMain(initial, 'Initial commit');
  writeFileSync(log, '');

  return {
    root,
    origin,
    clone,
    commitToMain,
    async originRefs() {
      const out = await new Git(origin).run(['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads']);
      return Object.fromEntries(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ') as [string, string]),
      );
    },
    pushLog: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A valid registry entry (less version, artifact, previous_version) for promotion tests. */
export function promotionEntry(model: string, run: string, rmse: number): PromotedEntry {
  const metrics = { rmse, mae: rmse * 0.7, r2: 0.99, bias: 0.001, max_abs_error: rmse * 4, nan_predictions: 0, rows: 200 };
  return {
    run_id: run,
    pipeline: `pipelines/${model}.yaml`,
    metrics,
    baseline: { kind: 'persistence', metrics: { ...metrics, rmse: 0.44, mae: 0.31, r2: 0.64 } },
    data: { start: '2026-10-23T02:00:00Z', end: '2026-11-22T02:00:00Z', rows: 1000, fingerprint: `sha256:${'a'.repeat(64)}` },
    holdout: { start: '2026-11-16T02:00:00Z', end: '2026-11-22T02:00:00Z', rows: 200 },
    features: { names: ['lag_1', 'lag_5'], spec: { lags: [1, 5] } },
    trainer: { algorithm: 'gbdt', params: { trees: 20 } },
    code_sha: 'b'.repeat(40),
    workflow_run_url: null,
    promoted_at: '2026-11-22T02:30:00Z',
    pull_request: null,
  };
}
