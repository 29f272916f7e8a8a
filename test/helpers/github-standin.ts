import { Kind, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { defaultServerOptions, StandInServer, type Reply, type ServerOptions } from './standin-server.ts';

export { checkAgainstOpenApi, type Fault, type OperationCheck, type RecordedRequest } from './standin-server.ts';

/**
 * A loopback stand-in for the few GitHub REST endpoints a promotion uses (pull requests, labels,
 * reviewers, comments), with in-memory state. The server, the OpenAPI check of every request
 * (problems collected in `violations`), request recording and queued faults are StandInServer's.
 */

export interface StandInPull {
  number: number;
  title: string;
  body: string;
  head: string;
  headOwner: string;
  base: string;
  state: 'open' | 'closed';
  labels: string[];
  reviewers: string[];
  teamReviewers: string[];
  comments: { id: number; body: string }[];
  /** the head commit (what a merge merges); zeros when a test does not care */
  headSha?: string;
  /** set by `merge`: who merged, when, and the merge commit */
  merged?: { by: string; at: string; commit: string };
  reviews?: StandInReview[];
  /** set by the enablePullRequestAutoMerge mutation */
  autoMerge?: { mergeMethod: string; enabledAt: string; expectedHeadOid: string | null };
}

export interface StandInReview {
  user: string;
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED';
  /** the head commit the review was given on */
  commitId: string;
  submittedAt: string;
}

export interface StandInOptions extends Partial<ServerOptions> {
  /** whether a head branch exists (GitHub answers 422 otherwise) */
  branchExists?: (branch: string) => boolean | Promise<boolean>;
  /** the repository's "Allow auto-merge" setting (default true) */
  autoMergeAllowed?: boolean;
}

type Options = ServerOptions & Pick<StandInOptions, 'branchExists' | 'autoMergeAllowed'>;

export class GitHubStandIn extends StandInServer<Options> {
  readonly pulls: StandInPull[] = [];

  private constructor(options: Options) {
    super(options, 1000);
  }

  static start(opts: StandInOptions = {}): Promise<GitHubStandIn> {
    return new GitHubStandIn({ ...defaultServerOptions, ...opts }).listen();
  }

  protected async route(method: string, rest: string, query: URLSearchParams, body: Record<string, unknown>): Promise<Reply | undefined> {
    const { owner } = this.options;
    let m: RegExpExecArray | null;

    if (rest === '/pulls' && method === 'GET') {
      const state = query.get('state') ?? 'open';
      const head = query.get('head');
      const list = this.pulls.filter((p) => (state === 'all' || p.state === state) && (!head || `${p.headOwner}:${p.head}` === head));
      return [200, list.map((p) => this.pullJson(p))];
    }
    if (rest === '/pulls' && method === 'POST') {
      const head = String(body.head);
      if (this.options.branchExists && !(await this.options.branchExists(head)))
        return [422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] }];
      if (this.pulls.some((p) => p.state === 'open' && p.head === head))
        return [422, { message: 'Validation Failed', errors: [{ message: `A pull request already exists for ${owner}:${head}.` }] }];
      const pull: StandInPull = {
        number: this.pulls.length + 1,
        title: String(body.title),
        body: String(body.body ?? ''),
        head,
        headOwner: owner,
        base: String(body.base),
        state: 'open',
        labels: [],
        reviewers: [],
        teamReviewers: [],
        comments: [],
      };
      this.pulls.push(pull);
      return [201, this.pullJson(pull)];
    }
    if ((m = /^\/pulls\/(\d+)$/.exec(rest)) && method === 'GET') {
      const pull = this.pull(Number(m[1]));
      return pull ? [200, this.pullJson(pull)] : [404, { message: 'Not Found' }];
    }
    if ((m = /^\/pulls\/(\d+)\/reviews$/.exec(rest)) && method === 'GET') {
      const pull = this.pull(Number(m[1]));
      if (!pull) return [404, { message: 'Not Found' }];
      return [
        200,
        (pull.reviews ?? []).map((r, i) => ({
          id: pull.number * 100 + i,
          node_id: `PRR_${pull.number}_${i}`,
          user: { login: r.user, id: i + 1, type: 'User' },
          body: '',
          state: r.state,
          html_url: `https://github.test/${this.options.owner}/${this.options.repo}/pull/${pull.number}#pullrequestreview-${i}`,
          pull_request_url: `${this.baseUrl}/repos/${this.options.owner}/${this.options.repo}/pulls/${pull.number}`,
          author_association: 'MEMBER',
          submitted_at: r.submittedAt,
          commit_id: r.commitId,
        })),
      ];
    }
    if ((m = /^\/commits\/([0-9a-f]{40})\/pulls$/.exec(rest)) && method === 'GET') {
      const sha = m[1];
      return [200, this.pulls.filter((p) => p.merged?.commit === sha || p.headSha === sha).map((p) => this.pullJson(p))];
    }
    if ((m = /^\/pulls\/(\d+)$/.exec(rest)) && method === 'PATCH') {
      const pull = this.pull(Number(m[1]));
      if (!pull) return [404, { message: 'Not Found' }];
      if (typeof body.title === 'string') pull.title = body.title;
      if (typeof body.body === 'string') pull.body = body.body;
      if (body.state === 'open' || body.state === 'closed') pull.state = body.state;
      return [200, this.pullJson(pull)];
    }
    if ((m = /^\/pulls\/(\d+)\/requested_reviewers$/.exec(rest)) && method === 'POST') {
      const pull = this.pull(Number(m[1]));
      if (!pull) return [404, { message: 'Not Found' }];
      pull.reviewers.push(...((body.reviewers as string[]) ?? []));
      pull.teamReviewers.push(...((body.team_reviewers as string[]) ?? []));
      return [201, this.pullJson(pull)];
    }
    if ((m = /^\/issues\/(\d+)\/labels$/.exec(rest)) && method === 'POST') {
      const pull = this.pull(Number(m[1]));
      if (!pull) return [404, { message: 'Not Found' }];
      for (const l of (body.labels as string[]) ?? []) if (!pull.labels.includes(l)) pull.labels.push(l);
      return [200, pull.labels.map((name) => this.labelJson(name))];
    }
    if ((m = /^\/issues\/(\d+)\/comments$/.exec(rest))) return this.comments(method, this.pull(Number(m[1])), 'pull', body);
    return undefined;
  }

  /** GraphQL: enablePullRequestAutoMerge, as GitHub answers it (errors with HTTP 200). */
  protected override graphql(operation: OperationDefinitionNode, variables: Record<string, unknown>): unknown {
    const field = operation.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD);
    if (operation.operation !== 'mutation' || field?.name.value !== 'enablePullRequestAutoMerge') return undefined;
    // the input object as the document spells it, its values from the coerced variables
    const input = field.arguments?.find((a) => a.name.value === 'input')?.value;
    const values: Record<string, unknown> = {};
    if (input?.kind === Kind.OBJECT)
      for (const f of input.fields)
        values[f.name.value] = f.value.kind === Kind.VARIABLE ? variables[f.value.name.value] : (f.value as { value?: unknown }).value;
    const pull = this.pulls.find((p) => this.nodeId(p) === values.pullRequestId);
    const error = (type: string, message: string) => ({
      data: { enablePullRequestAutoMerge: null },
      errors: [{ type, path: ['enablePullRequestAutoMerge'], message }],
    });
    if (!pull) return error('NOT_FOUND', `Could not resolve to a node with the global id of '${String(values.pullRequestId)}'`);
    if (this.options.autoMergeAllowed === false) return error('UNPROCESSABLE', 'Pull request Auto merge is not allowed for this repository');
    if (pull.state !== 'open') return error('UNPROCESSABLE', 'Pull request is not open');
    const expected = (values.expectedHeadOid as string | undefined) ?? null;
    if (expected && pull.headSha && expected !== pull.headSha) return error('UNPROCESSABLE', `Head sha didn't match expected head sha`);
    pull.autoMerge = { mergeMethod: String(values.mergeMethod ?? 'MERGE'), enabledAt: new Date().toISOString(), expectedHeadOid: expected };
    return {
      data: {
        enablePullRequestAutoMerge: {
          pullRequest: { number: pull.number, autoMergeRequest: { enabledAt: pull.autoMerge.enabledAt, mergeMethod: pull.autoMerge.mergeMethod } },
        },
      },
    };
  }

  nodeId(p: StandInPull): string {
    return `PR_kwDOstandin${p.number}`;
  }

  private pull(n: number): StandInPull | undefined {
    return this.pulls.find((p) => p.number === n);
  }

  private pullJson(p: StandInPull) {
    const { owner, repo } = this.options;
    return {
      id: p.number * 10,
      node_id: this.nodeId(p),
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      html_url: `https://github.test/${owner}/${repo}/pull/${p.number}`,
      url: `${this.baseUrl}/repos/${owner}/${repo}/pulls/${p.number}`,
      head: { ref: p.head, label: `${p.headOwner}:${p.head}`, sha: p.headSha ?? '0'.repeat(40) },
      base: { ref: p.base, label: `${owner}:${p.base}`, sha: '0'.repeat(40) },
      labels: p.labels.map((name) => this.labelJson(name)),
      requested_reviewers: p.reviewers.map((login) => ({ login })),
      requested_teams: p.teamReviewers.map((slug) => ({ slug })),
      user: { login: 'mlops-bot' },
      merged: Boolean(p.merged),
      merged_at: p.merged?.at ?? null,
      merged_by: p.merged ? { login: p.merged.by } : null,
      merge_commit_sha: p.merged?.commit ?? null,
    };
  }

  /** What GitHub does when a person merges `number`: merged_by, merged_at, the merge commit, closed. */
  merge(number: number, by: string, commit: string, at = new Date().toISOString()): void {
    const pull = this.pull(number);
    if (!pull) throw new Error(`no pull request #${number}`);
    pull.merged = { by, at, commit };
    pull.state = 'closed';
  }

  /** A review of `number` at its current head (or at `commitId`). */
  review(number: number, user: string, state: StandInReview['state'], commitId?: string): void {
    const pull = this.pull(number);
    if (!pull) throw new Error(`no pull request #${number}`);
    (pull.reviews ??= []).push({ user, state, commitId: commitId ?? pull.headSha ?? '0'.repeat(40), submittedAt: new Date().toISOString() });
  }
}
