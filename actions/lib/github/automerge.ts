import { gitHubCall, type GitHubTarget } from './client.ts';

/**
 * GitHub's auto-merge of a pull request: the GraphQL mutation `enablePullRequestAutoMerge` (REST
 * has none). GitHub merges once branch protection is satisfied (required checks, reviews), so the
 * registry check and the approval rules still apply. `expectedHeadOid` makes GitHub refuse when
 * the head moved since the commit given (nothing but what was pushed is ever auto-merged), and the
 * method is a merge commit, which the deploy reads from git (deploy/approval.ts).
 */

export const ENABLE_AUTO_MERGE = `mutation EnableAutoMerge($pullRequestId: ID!, $expectedHeadOid: GitObjectID, $mergeMethod: PullRequestMergeMethod) {
  enablePullRequestAutoMerge(input: { pullRequestId: $pullRequestId, expectedHeadOid: $expectedHeadOid, mergeMethod: $mergeMethod }) {
    pullRequest { number autoMergeRequest { enabledAt mergeMethod } }
  }
}`;

export interface AutoMergeSpec {
  /** the pull request's GraphQL node id */
  nodeId: string;
  /** the head commit that may be merged */
  expectedHeadOid: string;
}

interface EnableAutoMergeData {
  enablePullRequestAutoMerge: { pullRequest: { number: number; autoMergeRequest: { enabledAt: string; mergeMethod: string } | null } } | null;
}

/** Turns auto-merge on (merge commit); returns when GitHub says it was enabled. Throws what GitHub answered otherwise. */
export async function enableAutoMerge(t: GitHubTarget, spec: AutoMergeSpec): Promise<{ enabledAt: string }> {
  const data = await gitHubCall(t, 'enable auto-merge', async () => {
    try {
      return await t.client.graphql<EnableAutoMergeData>(ENABLE_AUTO_MERGE, {
        pullRequestId: spec.nodeId,
        expectedHeadOid: spec.expectedHeadOid,
        mergeMethod: 'MERGE',
      });
    } catch (e) {
      // GraphQL errors arrive with HTTP 200, listed: say them on one line
      const errors = (e as { errors?: { message: string }[] }).errors;
      throw errors?.length ? new Error(errors.map((x) => x.message).join('; ')) : e;
    }
  });
  const request = data.enablePullRequestAutoMerge?.pullRequest.autoMergeRequest;
  if (!request) throw new Error('GitHub: could not enable auto-merge: the answer has no autoMergeRequest');
  return { enabledAt: request.enabledAt };
}
