import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';

/**
 * A loopback stand-in for the few GitHub REST endpoints a promotion uses (pull requests, labels,
 * reviewers, comments), with in-memory state. Every request it receives is checked against
 * GitHub's published OpenAPI description of api.github.com (from @octokit/openapi): the method and
 * path template must exist, query parameters must be declared, the JSON body must be valid against
 * the operation's requestBody schema. Problems are collected in `violations`, never thrown, so a
 * test asserts on them. Faults (5xx, rate limits) can be queued per route.
 */

// ---------------------------------------------------------------- the OpenAPI description

interface OpenApiOperation {
  operationId?: string;
  parameters?: ({ $ref: string } | OpenApiParameter)[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
}
interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: { type?: string; enum?: unknown[] };
}
interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { parameters: Record<string, OpenApiParameter>; schemas: Record<string, unknown> };
}

interface Route {
  template: string;
  regex: RegExp;
  names: string[];
  literals: number;
}

let spec: { doc: OpenApiDocument; routes: Route[]; ajv: Ajv; validators: Map<string, ValidateFunction> } | undefined;

function openApi() {
  if (spec) return spec;
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as OpenApiDocument;
  const routes = Object.keys(doc.paths).map((template) => {
    const names: string[] = [];
    const parts = template.split('/').map((seg) =>
      seg.replace(/\{([^}]+)\}|[^{}]+/g, (m, name?: string) => {
        if (name) {
          names.push(name);
          return '([^/]+)';
        }
        return m.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      }),
    );
    return { template, regex: new RegExp(`^${parts.join('/')}$`), names, literals: template.split('/').filter((s) => s && !s.includes('{')).length };
  });
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
  ajv.addSchema({ $id: 'https://api.github.com/openapi', components: doc.components });
  spec = { doc, routes, ajv, validators: new Map() };
  return spec;
}

function pointRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(pointRefs);
  if (schema && typeof schema === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `https://api.github.com/openapi${v}` : pointRefs(v);
    return out;
  }
  return schema;
}

export interface OperationCheck {
  template: string | null;
  operationId: string | null;
  violations: string[];
}

/** Checks one request against the OpenAPI description (exported so a test can check the checker). */
export function checkAgainstOpenApi(method: string, path: string, query: URLSearchParams, body: unknown, hasBody: boolean): OperationCheck {
  const { doc, routes, ajv, validators } = openApi();
  const candidates = routes.filter((r) => r.regex.test(path)).sort((a, b) => b.literals - a.literals);
  const m = method.toLowerCase();
  const route = candidates.find((r) => doc.paths[r.template][m]) ?? candidates[0];
  if (!route) return { template: null, operationId: null, violations: [`${method} ${path}: no such path in the OpenAPI description`] };
  const op = doc.paths[route.template][m];
  if (!op) return { template: route.template, operationId: null, violations: [`${method} ${route.template}: no such operation in the OpenAPI description`] };
  const where = `${method} ${route.template} (${op.operationId})`;
  const violations: string[] = [];

  const params = (op.parameters ?? []).map((p) => ('$ref' in p ? doc.components.parameters[p.$ref.split('/').pop()!] : p));
  const values = route.regex.exec(path)!.slice(1).map(decodeURIComponent);
  route.names.forEach((name, i) => {
    const p = params.find((x) => x.in === 'path' && x.name === name);
    if (!p) violations.push(`${where}: path parameter ${name} is not declared`);
    else if (p.schema?.type === 'integer' && !/^\d+$/.test(values[i])) violations.push(`${where}: path parameter ${name}=${values[i]} is not an integer`);
  });
  const queryParams = params.filter((p) => p.in === 'query');
  for (const [name, value] of query) {
    const p = queryParams.find((x) => x.name === name);
    if (!p) violations.push(`${where}: query parameter ${name} is not declared`);
    else if (p.schema?.enum && !p.schema.enum.includes(value)) violations.push(`${where}: query parameter ${name}=${value} not in ${JSON.stringify(p.schema.enum)}`);
    else if (p.schema?.type === 'integer' && !/^\d+$/.test(value)) violations.push(`${where}: query parameter ${name}=${value} is not an integer`);
  }
  for (const p of queryParams) if (p.required && !query.has(p.name)) violations.push(`${where}: required query parameter ${p.name} is missing`);

  const schema = op.requestBody?.content?.['application/json']?.schema;
  if (!op.requestBody) {
    if (hasBody) violations.push(`${where}: sends a body, but the operation takes none`);
  } else if (!hasBody) {
    if (op.requestBody.required) violations.push(`${where}: the request body is required`);
  } else if (schema) {
    const key = `${m} ${route.template}`;
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(pointRefs(schema) as object);
      validators.set(key, validate);
    }
    if (!validate(body)) for (const e of validate.errors ?? []) violations.push(`${where}: body${e.instancePath} ${e.message ?? 'is invalid'}`);
    // GitHub ignores keys it does not know; a stand-in that did too would hide a misspelt field.
    const declared = (schema as { properties?: Record<string, unknown> }).properties;
    if (declared && body && typeof body === 'object' && !Array.isArray(body))
      for (const k of Object.keys(body)) if (!(k in declared)) violations.push(`${where}: body field ${k} is not in the operation's schema`);
  }
  return { template: route.template, operationId: op.operationId ?? null, violations };
}

// ---------------------------------------------------------------- the stand-in server

export interface RecordedRequest {
  method: string;
  /** the path below the API root, without the query */
  path: string;
  query: Record<string, string>;
  body: unknown;
  headers: IncomingMessage['headers'];
  template: string | null;
  operationId: string | null;
  status: number;
  /** when it arrived (ms since the epoch) */
  at: number;
}

export interface Fault {
  method: string;
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** how many matching requests get this answer (default 1) */
  times?: number;
}

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

export interface StandInOptions {
  owner?: string;
  repo?: string;
  token?: string;
  /** the API root's path, e.g. `/api/v3` as on GitHub Enterprise Server */
  prefix?: string;
  /** whether a head branch exists (GitHub answers 422 otherwise) */
  branchExists?: (branch: string) => boolean | Promise<boolean>;
}

export class GitHubStandIn {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  readonly pulls: StandInPull[] = [];
  private faults: Fault[] = [];
  private nextId = 1000;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    readonly options: Required<Omit<StandInOptions, 'branchExists'>> & Pick<StandInOptions, 'branchExists'>,
  ) {}

  static async start(opts: StandInOptions = {}): Promise<GitHubStandIn> {
    openApi();
    const options = { owner: 'plant', repo: 'ops', token: 'ghs_test', prefix: '', ...opts };
    let standIn: GitHubStandIn | undefined;
    const server = createServer((req, res) => void standIn!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    standIn = new GitHubStandIn(server, `http://127.0.0.1:${port}${options.prefix}`, options);
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
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(data === undefined ? '' : JSON.stringify(data));
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
    const check = checkAgainstOpenApi(method, path, url.searchParams, record.body, raw.length > 0);
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
      const [status, data] = await this.route(method, path, url.searchParams, record.body as Record<string, unknown>);
      send(status, data);
    } catch (e) {
      send(500, { message: (e as Error).message });
    }
  }

  private async route(method: string, path: string, query: URLSearchParams, body: Record<string, unknown>): Promise<[number, unknown]> {
    const { owner, repo } = this.options;
    const base = `/repos/${owner}/${repo}`;
    if (!path.startsWith(`${base}/`)) return [404, { message: 'Not Found' }];
    const rest = path.slice(base.length);
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
    if ((m = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const pull = this.pull(Number(m[1]));
      if (!pull) return [404, { message: 'Not Found' }];
      if (method === 'GET') return [200, pull.comments.map((c) => this.commentJson(pull, c))];
      if (method === 'POST') {
        const comment = { id: this.nextId++, body: String(body.body) };
        pull.comments.push(comment);
        return [201, this.commentJson(pull, comment)];
      }
    }
    return [404, { message: `Not Found: the stand-in does not serve ${method} ${path}` }];
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

  private labelJson(name: string) {
    return { id: name.length, name, color: 'ededed', default: false };
  }

  private commentJson(p: StandInPull, c: { id: number; body: string }) {
    const { owner, repo } = this.options;
    return { id: c.id, body: c.body, html_url: `https://github.test/${owner}/${repo}/pull/${p.number}#issuecomment-${c.id}`, user: { login: 'mlops-bot' } };
  }
}
