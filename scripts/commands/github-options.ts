import { gitHubTarget, type GitHubTarget } from '../../actions/lib/github/client.ts';
import type { ValuesOf } from '../cli.ts';

/** The GitHub options of the commands that talk to GitHub (promote, deploy, rollback, the monitoring checks). */
export const githubOptions = {
  'github-token': { type: 'string' },
  repository: { type: 'string' },
  'api-url': { type: 'string' },
} as const;

/** The GitHub target the options name (token: --github-token, else GITHUB_TOKEN), or null without a token. */
export function githubOf(values: ValuesOf<typeof githubOptions>): GitHubTarget | null {
  return gitHubTarget({ token: values['github-token'], repository: values.repository, apiUrl: values['api-url'], log: (m) => console.error(m) });
}
