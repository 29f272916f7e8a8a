import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Git } from '../git/git.ts';

/**
 * Promotion without a token (the demo): the branch and commit are made in a scratch clone under
 * `.mlops/promotion/<repo-name>/`, cloned from the given repository, whose own working tree and
 * branches are never touched (nothing is pushed back); the pull request's text goes to
 * `.mlops/promotion/<model>.md`.
 */

export const LOCAL_PROMOTION_DIR = join('.mlops', 'promotion');

/** A directory-safe name for a repository path or URL: `/x/y/plant.git` -> `plant`. */
export function repositoryName(repository: string): string {
  const trimmed = repository.replace(/[\\/]+$/, '').replace(/\.git$/, '');
  const name = basename(trimmed.replace(/^[a-z+]+:\/\/[^/]*\/?/i, '').replace(/^[^@/]+@[^:]+:/, '')) || 'repository';
  return name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^\.+/, '') || 'repository';
}

/** Clones `repository` into `<root>/.mlops/promotion/<repo-name>/`, or reuses that clone (pointing its origin at `repository`). */
export async function prepareScratchClone(repository: string, root: string = process.cwd()): Promise<Git> {
  const isPath = !/^[a-z+]+:\/\//i.test(repository) && !/^[^@/]+@[^:]+:/.test(repository);
  const source = isPath ? resolve(repository) : repository;
  const dir = resolve(root, LOCAL_PROMOTION_DIR, repositoryName(repository));
  mkdirSync(resolve(root, LOCAL_PROMOTION_DIR), { recursive: true });
  const git = new Git(dir);
  if (existsSync(join(dir, '.git')) || existsSync(join(dir, 'HEAD'))) {
    await git.run(['remote', 'set-url', 'origin', source]);
  } else {
    await new Git(resolve(root, LOCAL_PROMOTION_DIR)).run(['clone', '--quiet', source, dir]);
  }
  return git;
}

/** Writes the pull request's title and body to `<root>/.mlops/promotion/<model>.md`; returns the path. */
export function writeLocalPullRequest(root: string, model: string, title: string, body: string): string {
  const file = resolve(root, LOCAL_PROMOTION_DIR, `${model}.md`);
  mkdirSync(resolve(root, LOCAL_PROMOTION_DIR), { recursive: true });
  writeFileSync(file, `**Title:** ${title}\n\n${body.endsWith('\n') ? body : `${body}\n`}`);
  return file;
}
