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
}

export interface StandInOptions extends Partial<ServerOptions> {
  /** whether a head branch exists (GitHub answers 422 otherwise) */
  branchExists?: (branch: string) => boolean | Promise<boolean>;
}

type Options = ServerOptions & Pick<StandInOptions, 'branchExists'>;

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
      if (this.options.branchExists && !(await this.options.branchExists(head))) return [422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] }];
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

  private pull(n: number): StandInPull | undefined {
    return this.pulls.find((p) => p.number === n);
  }

  private pullJson(p: StandInPull) {
    const { owner, repo } = this.options;
    return {
      id: p.number * 10,
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      html_url: `https://github.test/${owner}/${repo}/pull/${p.number}`,
      url: `${this.baseUrl}/repos/${owner}/${repo}/pulls/${p.number}`,
      head: { ref: p.head, label: `${p.headOwner}:${p.head}`, sha: '0'.repeat(40) },
      base: { ref: p.base, label: `${owner}:${p.base}`, sha: '0'.repeat(40) },
      labels: p.labels.map((name) => this.labelJson(name)),
      requested_reviewers: p.reviewers.map((login) => ({ login })),
      requested_teams: p.teamReviewers.map((slug) => ({ slug })),
      user: { login: 'mlops-bot' },
    };
  }
}
