import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import { checkAgainstOpenApi, type Fault, type OperationCheck, type RecordedRequest } from './github-standin.ts';

/**
 * A loopback stand-in for the GitHub REST endpoints the monitoring uses: issues (create, update,
 * list by label and state, comments) and `POST /repos/{owner}/{repo}/dispatches`, with in-memory
 * state. It composes the pull-request stand-in's OpenAPI check (`checkAgainstOpenApi`): every
 * request must be a documented operation with declared query parameters and a valid body;
 * problems are collected in `violations`, never thrown. Faults (5xx, rate limits) can be queued.
 */

// ---------------------------------------------------------------- the OpenAPI check

/**
 * `checkAgainstOpenApi` compiles request-body schemas with Ajv, which refuses OpenAPI 3.0's
 * `nullable: true` on a schema without `type` (issues/create and issues/update have such a
 * `milestone`). For those operations the path and query are still checked by it, and the body
 * here, against the same description with `nullable` turned into JSON Schema (`anyOf [.., null]`).
 */
interface BodyDoc {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>>;
  components: Record<string, unknown>;
}
let bodyDoc: { doc: BodyDoc; ajv: Ajv; validators: Map<string, ValidateFunction> } | undefined;
const BODY_ID = 'https://api.github.com/openapi-jsonschema';

function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'nullable') continue;
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${BODY_ID}${v}` : toJsonSchema(v);
  }
  if ((schema as { nullable?: boolean }).nullable === true) {
    if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'], ...(Array.isArray(out.enum) ? { enum: [...out.enum, null] } : {}) };
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

function checkBody(method: string, template: string, body: unknown): string[] {
  if (!bodyDoc) {
    const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as BodyDoc;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
    ajv.addSchema({ $id: BODY_ID, components: toJsonSchema(doc.components) });
    bodyDoc = { doc, ajv, validators: new Map() };
  }
  const m = method.toLowerCase();
  const schema = bodyDoc.doc.paths[template]?.[m]?.requestBody?.content?.['application/json']?.schema;
  if (!schema) return [];
  const key = `${m} ${template}`;
  let validate = bodyDoc.validators.get(key);
  if (!validate) {
    validate = bodyDoc.ajv.compile(toJsonSchema(schema) as object);
    bodyDoc.validators.set(key, validate);
  }
  const where = `${method} ${template}`;
  const out: string[] = [];
  if (!validate(body)) for (const e of validate.errors ?? []) out.push(`${where}: body${e.instancePath} ${e.message ?? 'is invalid'}`);
  const declared = (schema as { properties?: Record<string, unknown> }).properties;
  if (declared && body && typeof body === 'object' && !Array.isArray(body))
    for (const k of Object.keys(body)) if (!(k in declared)) out.push(`${where}: body field ${k} is not in the operation's schema`);
  return out;
}

/** The shared check, with the body checked here when the shared one cannot compile its schema. */
export function checkIssueRequest(method: string, path: string, query: URLSearchParams, body: unknown, hasBody: boolean): OperationCheck {
  try {
    return checkAgainstOpenApi(method, path, query, body, hasBody);
  } catch {
    const check = checkAgainstOpenApi(method, path, query, undefined, false);
    const violations = check.violations.filter((v) => !v.endsWith('the request body is required'));
    if (check.template && hasBody) violations.push(...checkBody(method, check.template, body));
    return { ...check, violations };
  }
}

// ---------------------------------------------------------------- the stand-in server

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

export interface IssuesStandInOptions {
  owner?: string;
  repo?: string;
  token?: string;
  /** the API root's path, e.g. `/api/v3` as on GitHub Enterprise Server */
  prefix?: string;
}

export class GitHubIssuesStandIn {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  readonly issues: StandInIssue[] = [];
  readonly dispatches: StandInDispatch[] = [];
  private faults: Fault[] = [];
  private nextId = 5000;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    readonly options: Required<IssuesStandInOptions>,
  ) {}

  static async start(opts: IssuesStandInOptions = {}): Promise<GitHubIssuesStandIn> {
    const options = { owner: 'plant', repo: 'ops', token: 'ghs_test', prefix: '', ...opts };
    let standIn: GitHubIssuesStandIn | undefined;
    const server = createServer((req, res) => void standIn!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    standIn = new GitHubIssuesStandIn(server, `http://127.0.0.1:${port}${options.prefix}`, options);
    return standIn;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  fault(f: Fault): void {
    this.faults.push({ times: 1, ...f });
  }

  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
  }

  reset(): void {
    this.requests.length = 0;
    this.violations.length = 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    let path = url.pathname;
    const record: RecordedRequest = { method, path, query: Object.fromEntries(url.searchParams), body: undefined, headers: req.headers, template: null, operationId: null, status: 0, at: Date.now() };
    this.requests.push(record);
    const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, status === 204 ? headers : { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(status === 204 || data === undefined ? '' : JSON.stringify(data));
    };
    if (this.options.prefix) {
      if (!path.startsWith(`${this.options.prefix}/`)) {
        this.violations.push(`${method} ${path}: outside the API root ${this.options.prefix}`);
        return send(404, { message: 'Not Found' });
      }
      path = path.slice(this.options.prefix.length);
      record.path = path;
    }
    if (raw) {
      try {
        record.body = JSON.parse(raw);
      } catch {
        this.violations.push(`${method} ${path}: body is not JSON`);
      }
    }
    let check: OperationCheck;
    try {
      check = checkIssueRequest(method, path, url.searchParams, record.body, raw.length > 0);
    } catch (e) {
      check = { template: null, operationId: null, violations: [`${method} ${path}: the OpenAPI check failed: ${(e as Error).message}`] };
    }
    record.template = check.template;
    record.operationId = check.operationId;
    this.violations.push(...check.violations);

    if (req.headers.authorization !== `token ${this.options.token}`) return send(401, { message: `Bad credentials (got ${req.headers.authorization ?? 'none'})` });
    const fault = this.faults.find((f) => f.method === method && f.path.test(path) && (f.times ?? 1) > 0);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      return send(fault.status, fault.body ?? { message: `fault ${fault.status}` }, fault.headers);
    }
    try {
      const [status, data] = this.route(method, path, url.searchParams, (record.body ?? {}) as Record<string, unknown>);
      send(status, data);
    } catch (e) {
      send(500, { message: (e as Error).message });
    }
  }

  private route(method: string, path: string, query: URLSearchParams, body: Record<string, unknown>): [number, unknown] {
    const { owner, repo } = this.options;
    const base = `/repos/${owner}/${repo}`;
    if (!path.startsWith(`${base}/`)) return [404, { message: 'Not Found' }];
    const rest = path.slice(base.length);
    let m: RegExpExecArray | null;

    if (rest === '/dispatches' && method === 'POST') {
      if (typeof body.event_type !== 'string' || body.event_type.length === 0) return [422, { message: 'Validation Failed' }];
      this.dispatches.push({ event_type: body.event_type, client_payload: body.client_payload as Record<string, unknown> | undefined });
      return [204, undefined];
    }
    if (rest === '/issues' && method === 'GET') {
      const state = query.get('state') ?? 'open';
      const labels = (query.get('labels') ?? '').split(',').map((l) => l.trim()).filter(Boolean);
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
    if ((m = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const issue = this.issue(Number(m[1]));
      if (!issue) return [404, { message: 'Not Found' }];
      if (method === 'GET') return [200, issue.comments.map((c) => this.commentJson(issue, c))];
      if (method === 'POST') {
        const comment = { id: this.nextId++, body: String(body.body) };
        issue.comments.push(comment);
        return [201, this.commentJson(issue, comment)];
      }
    }
    return [404, { message: `Not Found: the stand-in does not serve ${method} ${path}` }];
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
      labels: i.labels.map((name) => ({ id: name.length, name, color: 'ededed', default: false })),
      comments: i.comments.length,
      user: { login: 'mlops-bot' },
    };
  }

  private commentJson(i: StandInIssue, c: { id: number; body: string }) {
    const { owner, repo } = this.options;
    return { id: c.id, body: c.body, html_url: `https://github.test/${owner}/${repo}/issues/${i.number}#issuecomment-${c.id}`, user: { login: 'mlops-bot' } };
  }
}
