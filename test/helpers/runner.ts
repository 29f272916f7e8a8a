import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parse as parseYaml, parseDocument } from 'yaml';
import { openMigratedDb, type Backend } from '../../actions/lib/db/index.ts';
import { seedReadings } from '../../actions/lib/demo-data/index.ts';
import { freshDatabase, type FreshDatabase } from './db.ts';
import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import type { FunctionDefinition } from '@actions/expressions/funcs/info';
import { truthy } from '@actions/expressions/result';

/**
 * Runs actions as a runner does: INPUT_* variables, and GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and
 * GITHUB_ENV files created empty beforehand; outputs, summary, annotations and masks are read back
 * from those files and from the workflow commands on stdout. `${{ }}` expressions are evaluated
 * with GitHub's own expression engine (@actions/expressions).
 */

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
  file?: string;
  line?: number;
  col?: number;
  title?: string;
}

export interface StepRun {
  code: number;
  outputs: Record<string, string>;
  summary: string;
  envFile: string;
  stdout: string;
  stderr: string;
  annotations: Annotation[];
  /** values registered with ::add-mask:: */
  masks: string[];
  /** every file the step wrote for the runner, and its logs, as one text (for secret checks) */
  everything: string;
}

/** The environment variable an input reaches @actions/core by: uppercased, spaces to underscores, dashes kept. */
export function inputVar(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** Parses the GITHUB_OUTPUT / GITHUB_ENV file format (`name<<delimiter` heredocs and `name=value` lines). */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i]);
      if (i >= lines.length) throw new Error(`unterminated heredoc for ${name}`);
      out[name] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

const unescapeData = (s: string) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
const unescapeProp = (s: string) => unescapeData(s).replace(/%3A/g, ':').replace(/%2C/g, ',');

/** Workflow commands (`::warning file=x,line=3::msg`, `::add-mask::v`) on a step's stdout. */
export function parseWorkflowCommands(stdout: string): { annotations: Annotation[]; masks: string[] } {
  const annotations: Annotation[] = [];
  const masks: string[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^::([a-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!m) continue;
    const [, cmd, props = '', message] = m;
    if (cmd === 'add-mask') masks.push(unescapeData(message));
    if (cmd === 'error' || cmd === 'warning' || cmd === 'notice') {
      const p: Record<string, string> = {};
      for (const kv of props.split(',').filter(Boolean)) {
        const i = kv.indexOf('=');
        p[kv.slice(0, i)] = unescapeProp(kv.slice(i + 1));
      }
      annotations.push({
        level: cmd,
        message: unescapeData(message),
        ...(p.file ? { file: p.file } : {}),
        ...(p.line ? { line: Number(p.line) } : {}),
        ...(p.col ? { col: Number(p.col) } : {}),
        ...(p.title ? { title: p.title } : {}),
      });
    }
  }
  return { annotations, masks };
}

/** A clean environment for a step: no DATABASE_URL or token leaks in from the test process. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SYSTEMROOT']) if (process.env[k]) env[k] = process.env[k]!;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Runs a command with fresh runner files; `env` is the whole environment of the step (see baseEnv). */
export async function runStep(command: string, args: string[], env: Record<string, string>, cwd: string): Promise<StepRun> {
  const dir = mkdtempSync(join(tmpdir(), 'mlops-step-'));
  const files = { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STEP_SUMMARY: join(dir, 'summary'), GITHUB_ENV: join(dir, 'env') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const child = spawn(command, args, { cwd, env: { ...env, ...files }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((res, rej) => {
    child.on('error', rej);
    child.on('close', (c) => res(c ?? 1));
  });
  const outputText = readFileSync(files.GITHUB_OUTPUT, 'utf8');
  const summary = readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8');
  const envFile = readFileSync(files.GITHUB_ENV, 'utf8');
  const { annotations, masks } = parseWorkflowCommands(stdout);
  return {
    code,
    outputs: parseFileCommands(outputText),
    summary,
    envFile,
    stdout,
    stderr,
    annotations,
    masks,
    everything: [outputText, summary, envFile, stdout, stderr].join('\n'),
  };
}

/** Runs `actions/<name>/main.ts` as the composite step does (entry.sh: `node actions/lib/actions-io/run-step.mjs main.ts`), inputs as INPUT_* variables. */
export function runEntry(
  name: string,
  inputs: Record<string, string>,
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<StepRun> {
  const env = baseEnv(options.env);
  for (const [k, v] of Object.entries(inputs)) env[inputVar(k)] = v;
  return runStep(
    process.execPath,
    [join(REPO_ROOT, 'actions/lib/actions-io/run-step.mjs'), join(REPO_ROOT, 'actions', name, 'main.ts')],
    env,
    options.cwd ?? REPO_ROOT,
  );
}

// ---------------------------------------------------------------------------------------------
// Expressions

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** The status functions of `if:`; the steps run here are all on the success path. */
const STATUS: FunctionDefinition[] = ['success', 'always', 'failure', 'cancelled'].map((name) => ({
  name,
  minArgs: 0,
  maxArgs: 0,
  call: () => new data.BooleanData(name === 'success' || name === 'always'),
}));

function toData(value: Json | undefined): data.ExpressionData {
  return JSON.parse(JSON.stringify(value ?? null), data.reviver) as data.ExpressionData;
}

/** Evaluates one expression (the text inside `${{ }}`) against `context`. */
export function evaluate(expression: string, context: Record<string, Json>): data.ExpressionData {
  const tokens = new Lexer(expression).lex().tokens;
  const ast = new Parser(tokens, Object.keys(context), STATUS).parse();
  const ctx = new data.Dictionary(...Object.entries(context).map(([key, value]) => ({ key, value: toData(value) })));
  return new Evaluator(ast, ctx, new Map(STATUS.map((f) => [f.name.toLowerCase(), f]))).evaluate();
}

/** A string with `${{ }}` parts, each evaluated and coerced to a string as the runner does. */
export function interpolate(template: string, context: Record<string, Json>): string {
  return template.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expr: string) => {
    const v = evaluate(expr.trim(), context);
    return v instanceof data.Null ? '' : v.coerceString();
  });
}

/** An `if:` condition, with or without `${{ }}`; absent means success(). */
export function condition(text: string | boolean | undefined, context: Record<string, Json>): boolean {
  if (text === undefined) return true;
  if (typeof text === 'boolean') return text;
  const m = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(text);
  return truthy(evaluate(m ? m[1] : text, context));
}

// ---------------------------------------------------------------------------------------------
// Composite actions

export interface ActionYaml {
  name: string;
  description: string;
  inputs?: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs?: Record<string, { description: string; value: string }>;
  runs: { using: string; steps: { id?: string; shell?: string; env?: Record<string, string>; run?: string }[] };
}

export function readActionYaml(dir: string): ActionYaml {
  return parseYaml(readFileSync(join(dir, 'action.yml'), 'utf8')) as ActionYaml;
}

/**
 * Runs a local composite action (`uses: ./actions/<x>`) as the runner does: inputs with their
 * defaults, each step's env interpolated from `inputs`, its `run` through bash with
 * GITHUB_ACTION_PATH, and the action's outputs from its `value:` expressions.
 */
export async function runComposite(
  actionDir: string,
  withInputs: Record<string, string>,
  options: { env: Record<string, string>; cwd: string; context?: Record<string, Json> },
): Promise<StepRun> {
  const action = readActionYaml(actionDir);
  const inputs: Record<string, Json> = {};
  for (const [name, def] of Object.entries(action.inputs ?? {})) inputs[name] = withInputs[name] ?? def.default ?? '';
  for (const name of Object.keys(withInputs)) if (!(name in inputs)) throw new Error(`${actionDir}: unexpected input ${name}`);
  const steps: Record<string, Json> = {};
  let last: StepRun | null = null;
  for (const step of action.runs.steps) {
    const ctx = { ...options.context, inputs, steps, env: options.env };
    const env: Record<string, string> = { ...options.env, GITHUB_ACTION_PATH: actionDir };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = interpolate(String(v), ctx);
    last = await runStep('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', interpolate(step.run ?? '', ctx)], env, options.cwd);
    if (step.id) steps[step.id] = { outputs: last.outputs, outcome: last.code === 0 ? 'success' : 'failure' };
    if (last.code !== 0) break;
  }
  const outputs: Record<string, string> = {};
  for (const [name, def] of Object.entries(action.outputs ?? {})) outputs[name] = interpolate(def.value, { inputs, steps });
  return { ...last!, outputs };
}

// ---------------------------------------------------------------------------------------------
// A workspace like the runner's checkout

export interface Workspace {
  dir: string;
  /** runs git in the workspace */
  git(...args: string[]): string;
}

/**
 * A git repository with the given files committed (pipelines, registry), node_modules linked to
 * this checkout's (what `npm ci` gives a job), as the workspace of a job.
 */
const IDENTITY = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };

export async function makeWorkspace(files: Record<string, string>, options: { commitDate?: string } = {}): Promise<Workspace> {
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync, symlinkSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'mlops-ws-'));
  const git = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ...IDENTITY },
    }).trim();
  git('init', '--quiet', '--initial-branch=main');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, '.gitignore'), 'node_modules\n.mlops/\n');
  git('add', '-A');
  // the commit's date is when a registry entry in `files` landed: its promotion time (registry/promoted-at.ts)
  const at = options.commitDate ? { GIT_AUTHOR_DATE: options.commitDate, GIT_COMMITTER_DATE: options.commitDate } : {};
  execFileSync('git', ['commit', '--quiet', '-m', 'initial'], { cwd: dir, env: { ...process.env, ...IDENTITY, ...at } });
  return { dir, git };
}

// ---------------------------------------------------------------------------------------------
// GitHub's workflow parser

export interface ParseReport {
  file: string;
  errors: string[];
  /** job ids of the converted workflow (workflows only) */
  jobs: string[];
}

/**
 * Parses workflow or action files with @actions/workflow-parser. Its dist imports JSON without an
 * import attribute, which vitest's externalised Node import refuses (Node 20 needs `with { type:
 * 'json' }`); under tsx it loads, so the parser runs in a child process. (With
 * `server.deps.inline: ['@actions/workflow-parser']` in vitest.config.ts it could run in-process.)
 */
export async function parseWithGitHub(kind: 'workflow' | 'action', files: { name: string; content: string }[]): Promise<ParseReport[]> {
  const script = `
    import { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } from '@actions/workflow-parser';
    import { parseAction } from '@actions/workflow-parser/actions/action-parser';
    const files = JSON.parse(process.env.PARSE_FILES ?? '[]');
    const out = [];
    for (const f of files) {
      if (process.env.PARSE_KIND === 'action') {
        const r = parseAction(f, new NoOperationTraceWriter());
        out.push({ file: f.name, errors: r.context.errors.getErrors().map((e) => e.message), jobs: [] });
        continue;
      }
      const r = parseWorkflow(f, new NoOperationTraceWriter());
      const errors = r.context.errors.getErrors().map((e) => e.message);
      let jobs = [];
      if (r.value) {
        const t = await convertWorkflowTemplate(r.context, r.value);
        errors.push(...(t.errors ?? []).map((e) => e.Message));
        jobs = (t.jobs ?? []).map((j) => j.id.value);
      }
      out.push({ file: f.name, errors, jobs });
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const run = await runStep(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    baseEnv({ PARSE_FILES: JSON.stringify(files), PARSE_KIND: kind }),
    REPO_ROOT,
  );
  if (run.code !== 0) throw new Error(`the workflow parser failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as ParseReport[];
}

// ---------------------------------------------------------------------------------------------
// Fixtures: a small pipeline and a seeded database

/** A copy of the demo pipeline with a small trainer (and optional changes), as YAML text. */
export function pipelineYaml(name: string, edit: (doc: ReturnType<typeof parseDocument>) => void = () => undefined): string {
  const doc = parseDocument(readFileSync(join(REPO_ROOT, 'pipelines/tank-level-forecast.yaml'), 'utf8'));
  doc.set('name', name);
  doc.setIn(['trainer'], doc.createNode({ algorithm: 'ridge', params: {} }));
  edit(doc);
  return doc.toString();
}

export const SEED = { days: 30, stations: 1, seed: 7, start: new Date('2026-10-01T00:00:00Z') };

/** A database seeded with 30 days x 1 station, and how an action reaches it (data-dir or database-url with a password). */
export async function seededDatabase(
  backend: Backend,
  seed: { days: number; stations: number; seed: number; start: Date } = SEED,
): Promise<{ inputs: Record<string, string>; secret: string | null; asOf: string; fresh: FreshDatabase | null; cleanup(): Promise<void> }> {
  if (backend === 'pglite') {
    const dataDir = mkdtempSync(join(tmpdir(), 'mlops-pglite-'));
    const { db } = await openMigratedDb({ dataDir, ignoreEnv: true });
    const seeded = await seedReadings(db, seed);
    await db.close();
    return {
      inputs: { 'data-dir': dataDir },
      secret: null,
      asOf: seeded.end.toISOString(),
      fresh: null,
      cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const fresh = await freshDatabase('postgres');
  const db = await fresh.openMigrated();
  const seeded = await seedReadings(db, seed);
  // A real role with a password: the actions connect with it, and it must never show up anywhere.
  const role = `mlops_pw_${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  await db.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password}'`);
  await db.close();
  const u = new URL(fresh.url!);
  u.username = role;
  u.password = password;
  return {
    inputs: { 'database-url': u.toString() },
    secret: password,
    asOf: seeded.end.toISOString(),
    fresh,
    async cleanup() {
      await fresh.drop();
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`DROP ROLE IF EXISTS ${role}`);
      await c.end();
    },
  };
}
