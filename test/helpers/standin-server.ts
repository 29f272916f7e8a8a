import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import {
  buildClientSchema,
  getVariableValues,
  Kind,
  parse as parseGraphQL,
  type DocumentNode,
  type GraphQLSchema,
  type IntrospectionQuery,
  type OperationDefinitionNode,
} from 'graphql';
import { schema as githubSchema, validate as validateGitHubQuery } from '@octokit/graphql-schema';

/**
 * What the loopback GitHub stand-ins share: a server on 127.0.0.1 with in-memory state, the API
 * root's prefix (GitHub Enterprise Server's `/api/v3`), token check, request recording, queued
 * faults (5xx, rate limits), and a check of every request against GitHub's published OpenAPI
 * description of api.github.com (from @octokit/openapi): the method and path template must exist,
 * query parameters must be declared, the JSON body must be valid against the operation's
 * requestBody schema. Problems are collected in `violations`, never thrown, so a test asserts on
 * them. A stand-in subclasses `StandInServer` and answers the routes below `/repos/{owner}/{repo}`.
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

const SCHEMA_ID = 'https://api.github.com/openapi';

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
  ajv.addSchema({ $id: SCHEMA_ID, components: toJsonSchema(doc.components) });
  spec = { doc, routes, ajv, validators: new Map() };
  return spec;
}

/**
 * An OpenAPI 3.0 schema as JSON Schema for Ajv: local `$ref`s point into the document added
 * under SCHEMA_ID, and `nullable: true` (which Ajv refuses on a schema without `type`, as the
 * `milestone` of issues/create and issues/update) becomes `type: [.., 'null']` or `anyOf [.., null]`.
 */
function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'nullable') continue;
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${SCHEMA_ID}${v}` : toJsonSchema(v);
  }
  if ((schema as { nullable?: boolean }).nullable === true) {
    if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'], ...(Array.isArray(out.enum) ? { enum: [...out.enum, null] } : {}) };
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
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
    else if (p.schema?.enum && !p.schema.enum.includes(value))
      violations.push(`${where}: query parameter ${name}=${value} not in ${JSON.stringify(p.schema.enum)}`);
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
      validate = ajv.compile(toJsonSchema(schema) as object);
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

// ---------------------------------------------------------------- the GraphQL schema

let graphqlSchema: GraphQLSchema | undefined;

/**
 * Checks one GraphQL request against GitHub's published schema (@octokit/graphql-schema): the
 * document must validate (fields, arguments, input types), name one operation, and its variables
 * must coerce to the declared types. Returns the problems and the parsed operation.
 */
export function checkAgainstGraphQLSchema(body: unknown): {
  violations: string[];
  operation: OperationDefinitionNode | null;
  variables: Record<string, unknown>;
} {
  const b = (body ?? {}) as { query?: unknown; variables?: unknown; operationName?: unknown };
  if (typeof b.query !== 'string') return { violations: ['POST /graphql: the body has no query'], operation: null, variables: {} };
  const violations = validateGitHubQuery(b.query).map((e) => `POST /graphql: ${e.message}`);
  graphqlSchema ??= buildClientSchema(githubSchema.json as IntrospectionQuery);
  let doc: DocumentNode;
  try {
    doc = parseGraphQL(b.query);
  } catch (e) {
    return { violations: [...violations, `POST /graphql: ${(e as Error).message}`], operation: null, variables: {} };
  }
  const operations = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operations.length === 1 ? operations[0] : (operations.find((o) => o.name?.value === b.operationName) ?? null);
  if (!operation) return { violations: [...violations, 'POST /graphql: expected one operation (or operationName)'], operation: null, variables: {} };
  const coerced = getVariableValues(graphqlSchema, operation.variableDefinitions ?? [], (b.variables ?? {}) as Record<string, unknown>);
  if (coerced.errors) violations.push(...coerced.errors.map((e) => `POST /graphql: ${e.message}`));
  return { violations, operation, variables: coerced.coerced ?? {} };
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
  /** or headers computed when the request arrives (a rate-limit reset relative to that moment) */
  headers?: Record<string, string> | ((arrivedAt: number) => Record<string, string>);
  body?: unknown;
  /** how many matching requests get this answer (default 1) */
  times?: number;
}

export interface ServerOptions {
  owner: string;
  repo: string;
  token: string;
  /** the API root's path, e.g. `/api/v3` as on GitHub Enterprise Server */
  prefix: string;
}

export const defaultServerOptions: ServerOptions = { owner: 'plant', repo: 'ops', token: 'ghs_test', prefix: '' };

/** A status and a JSON body (none for 204). */
export type Reply = [number, unknown];

/** An issue or pull request with a comment thread (`/issues/{number}/comments`). */
export interface Thread {
  number: number;
  comments: { id: number; body: string }[];
}

export abstract class StandInServer<O extends ServerOptions = ServerOptions> {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  private readonly faults: Fault[] = [];
  private server: Server | undefined;
  private url = '';
  readonly options: O;
  /** the id of the next comment */
  private nextId: number;

  protected constructor(options: O, nextId: number) {
    this.options = options;
    this.nextId = nextId;
  }

  /** The API root, e.g. `http://127.0.0.1:41234/api/v3`. */
  get baseUrl(): string {
    return this.url;
  }

  /** Starts listening on a free loopback port (a subclass's `start` calls it). */
  protected async listen(): Promise<this> {
    openApi();
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    this.server = server;
    this.url = `http://127.0.0.1:${port}${this.options.prefix}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
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

  /**
   * The answer to a request below `/repos/{owner}/{repo}` (`rest` is the path after it), or
   * undefined when the stand-in does not serve it (404).
   */
  protected abstract route(method: string, rest: string, query: URLSearchParams, body: Record<string, unknown>): Reply | undefined | Promise<Reply | undefined>;

  /**
   * The answer to a GraphQL operation already checked against the schema (`variables` coerced), as
   * `{ data }` or `{ errors }` (GitHub answers both with 200); undefined: not served (the default).
   */
  protected graphql(_operation: OperationDefinitionNode, _variables: Record<string, unknown>): unknown {
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    let path = url.pathname;
    const record: RecordedRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      headers: req.headers,
      template: null,
      operationId: null,
      status: 0,
      at: Date.now(),
    };
    this.requests.push(record);
    const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, status === 204 ? headers : { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(status === 204 || data === undefined ? '' : JSON.stringify(data));
    };

    const { prefix, token, owner, repo } = this.options;
    // GraphQL lives beside the REST root: /graphql, or /api/graphql on GitHub Enterprise Server
    if (method === 'POST' && path === (prefix ? `${prefix.replace(/\/v3$/, '')}/graphql` : '/graphql')) {
      record.path = '/graphql';
      record.template = '/graphql';
      try {
        record.body = JSON.parse(raw);
      } catch {
        this.violations.push('POST /graphql: body is not JSON');
        return send(400, { message: 'Problems parsing JSON' });
      }
      const check = checkAgainstGraphQLSchema(record.body);
      record.operationId = check.operation ? `graphql/${check.operation.name?.value ?? 'anonymous'}` : null;
      this.violations.push(...check.violations);
      if (req.headers.authorization !== `token ${token}` && req.headers.authorization !== `bearer ${token}`) return send(401, { message: 'Bad credentials' });
      if (check.violations.length > 0 || !check.operation) return send(200, { errors: check.violations.map((message) => ({ message })) });
      const answer = this.graphql(check.operation, check.variables);
      return answer === undefined ? send(200, { errors: [{ type: 'NOT_FOUND', message: 'the stand-in does not serve this operation' }] }) : send(200, answer);
    }
    if (prefix) {
      if (!path.startsWith(`${prefix}/`)) {
        this.violations.push(`${method} ${path}: outside the API root ${prefix}`);
        return send(404, { message: 'Not Found' });
      }
      path = path.slice(prefix.length);
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
      check = checkAgainstOpenApi(method, path, url.searchParams, record.body, raw.length > 0);
    } catch (e) {
      check = { template: null, operationId: null, violations: [`${method} ${path}: the OpenAPI check failed: ${(e as Error).message}`] };
    }
    record.template = check.template;
    record.operationId = check.operationId;
    this.violations.push(...check.violations);

    if (req.headers.authorization !== `token ${token}`) return send(401, { message: `Bad credentials (got ${req.headers.authorization ?? 'none'})` });

    const fault = this.faults.find((f) => f.method === method && f.path.test(path) && (f.times ?? 1) > 0);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      const headers = typeof fault.headers === 'function' ? fault.headers(Date.now()) : fault.headers;
      return send(fault.status, fault.body ?? { message: `fault ${fault.status}` }, headers);
    }

    const base = `/repos/${owner}/${repo}`;
    if (!path.startsWith(`${base}/`)) return send(404, { message: 'Not Found' });
    try {
      const reply = await this.route(method, path.slice(base.length), url.searchParams, (record.body ?? {}) as Record<string, unknown>);
      if (reply) send(...reply);
      else send(404, { message: `Not Found: the stand-in does not serve ${method} ${path}` });
    } catch (e) {
      send(500, { message: (e as Error).message });
    }
  }

  // ---------------------------------------------------------------- what both stand-ins answer alike

  /** `GET` and `POST /issues/{number}/comments` of a thread (`page`: its html_url's kind). */
  protected comments(method: string, thread: Thread | undefined, page: 'pull' | 'issues', body: Record<string, unknown>): Reply | undefined {
    if (!thread) return [404, { message: 'Not Found' }];
    if (method === 'GET') return [200, thread.comments.map((c) => this.commentJson(thread, c, page))];
    if (method === 'POST') {
      const comment = { id: this.nextId++, body: String(body.body) };
      thread.comments.push(comment);
      return [201, this.commentJson(thread, comment, page)];
    }
    return undefined;
  }

  protected labelJson(name: string) {
    return { id: name.length, name, color: 'ededed', default: false };
  }

  private commentJson(t: Thread, c: { id: number; body: string }, page: 'pull' | 'issues') {
    const { owner, repo } = this.options;
    return { id: c.id, body: c.body, html_url: `https://github.test/${owner}/${repo}/${page}/${t.number}#issuecomment-${c.id}`, user: { login: 'mlops-bot' } };
  }
}
