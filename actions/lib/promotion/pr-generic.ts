import type { GitHub, RepoRef } from './github.ts';

export interface PlainPullRequestSpec {
  head: string;
  base: string;
  title: string;
  body: string;
  labels?: string[];
}

/**
 * One open pull request for a branch that is not a promotion (a rollback): found by head branch,
 * created when there is none, its title and body brought up to date when there is.
 */
export async function createPullRequestFor(gh: GitHub, repo: RepoRef, spec: PlainPullRequestSpec): Promise<{ number: number; url: string; outcome: 'created' | 'updated' | 'unchanged' }> {
  const { data: open } = await gh.rest.pulls.list({ ...repo, head: `${repo.owner}:${spec.head}`, base: spec.base, state: 'open', per_page: 10 });
  let number: number;
  let url: string;
  let outcome: 'created' | 'updated' | 'unchanged';
  if (open.length > 0) {
    const pr = open[0];
    number = pr.number;
    url = pr.html_url;
    if (pr.title === spec.title && (pr.body ?? '') === spec.body) outcome = 'unchanged';
    else {
      await gh.rest.pulls.update({ ...repo, pull_number: pr.number, title: spec.title, body: spec.body });
      outcome = 'updated';
    }
  } else {
    const { data } = await gh.rest.pulls.create({ ...repo, head: spec.head, base: spec.base, title: spec.title, body: spec.body });
    number = data.number;
    url = data.html_url;
    outcome = 'created';
  }
  if (spec.labels?.length && outcome !== 'unchanged') await gh.rest.issues.addLabels({ ...repo, issue_number: number, labels: spec.labels });
  return { number, url, outcome };
}
