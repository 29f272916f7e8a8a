import { defaultServerOptions, StandInServer, type Reply, type ServerOptions } from './standin-server.ts';

/**
 * A loopback stand-in for the GitHub REST endpoints the monitoring uses: issues (create, update,
 * list by label and state, comments) and `POST /repos/{owner}/{repo}/dispatches`, with in-memory
 * state. The server, the OpenAPI check of every request (problems collected in `violations`),
 * request recording and queued faults are StandInServer's.
 */

export interface StandInIssue {
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  stateReason: string | null;
  labels: string[];
  comments: { id: number; body: string }[];
}

export interface StandInDispatch {
  event_type: string;
  client_payload: Record<string, unknown> | undefined;
}

export type IssuesStandInOptions = Partial<ServerOptions>;

export class GitHubIssuesStandIn extends StandInServer {
  readonly issues: StandInIssue[] = [];
  readonly dispatches: StandInDispatch[] = [];

  private constructor(options: ServerOptions) {
    super(options, 5000);
  }

  static start(opts: IssuesStandInOptions = {}): Promise<GitHubIssuesStandIn> {
    return new GitHubIssuesStandIn({ ...defaultServerOptions, ...opts }).listen();
  }

  protected route(method: string, rest: string, query: URLSearchParams, body: Record<string, unknown>): Reply | undefined {
    let m: RegExpExecArray | null;

    if (rest === '/dispatches' && method === 'POST') {
      if (typeof body.event_type !== 'string' || body.event_type.length === 0) return [422, { message: 'Validation Failed' }];
      this.dispatches.push({ event_type: body.event_type, client_payload: body.client_payload as Record<string, unknown> | undefined });
      return [204, undefined];
    }
    if (rest === '/issues' && method === 'GET') {
      const state = query.get('state') ?? 'open';
      const labels = (query.get('labels') ?? '')
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean);
      const perPage = Number(query.get('per_page') ?? 30);
      const page = Number(query.get('page') ?? 1);
      const list = this.issues
        .filter((i) => (state === 'all' || i.state === state) && labels.every((l) => i.labels.includes(l)))
        .sort((a, b) => b.number - a.number);
      return [200, list.slice((page - 1) * perPage, page * perPage).map((i) => this.issueJson(i))];
    }
    if (rest === '/issues' && method === 'POST') {
      if (typeof body.title !== 'string' || body.title.length === 0) return [422, { message: 'Validation Failed' }];
      const issue: StandInIssue = {
        number: this.issues.length + 1,
        title: body.title,
        body: String(body.body ?? ''),
        state: 'open',
        stateReason: null,
        labels: ((body.labels as unknown[]) ?? []).map((l) => (typeof l === 'string' ? l : String((l as { name?: string }).name))),
        comments: [],
      };
      this.issues.push(issue);
      return [201, this.issueJson(issue)];
    }
    if ((m = /^\/issues\/(\d+)$/.exec(rest))) {
      const issue = this.issue(Number(m[1]));
      if (!issue) return [404, { message: 'Not Found' }];
      if (method === 'GET') return [200, this.issueJson(issue)];
      if (method === 'PATCH') {
        if (typeof body.title === 'string') issue.title = body.title;
        if (typeof body.body === 'string') issue.body = body.body;
        if (body.state === 'open' || body.state === 'closed') issue.state = body.state;
        if (typeof body.state_reason === 'string') issue.stateReason = body.state_reason;
        return [200, this.issueJson(issue)];
      }
    }
    if ((m = /^\/issues\/(\d+)\/comments$/.exec(rest))) return this.comments(method, this.issue(Number(m[1])), 'issues', body);
    return undefined;
  }

  private issue(n: number): StandInIssue | undefined {
    return this.issues.find((i) => i.number === n);
  }

  private issueJson(i: StandInIssue) {
    const { owner, repo } = this.options;
    return {
      id: i.number * 10,
      number: i.number,
      state: i.state,
      state_reason: i.stateReason,
      title: i.title,
      body: i.body,
      html_url: `https://github.test/${owner}/${repo}/issues/${i.number}`,
      url: `${this.baseUrl}/repos/${owner}/${repo}/issues/${i.number}`,
      labels: i.labels.map((name) => this.labelJson(name)),
      comments: i.comments.length,
      user: { login: 'mlops-bot' },
    };
  }
}
