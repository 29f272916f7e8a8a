import type { Db, Queryable } from '../db/index.ts';
import { quoteIdent } from '../db/index.ts';
import { sqlIdentifiers } from '../config/checks.ts';
import type { PathSegment } from '../config/document.ts';
import { formatPath } from '../config/issues.ts';
import type { SourceConfig as SourceSpec } from '../config/schema.ts';
import type { SourceIssue } from '../config/validate.ts';

export type { SourceIssue };

/**
 * Functions a derive expression may not call: they reach beyond the row (server files, large
 * objects, SQL run from text, other connections, settings, other sessions, locks and sleeps).
 * A first line only: the boundary is the extraction's least-privilege role (README).
 */
const FORBIDDEN: readonly [RegExp, string][] = [
  [/^pg_read_(binary_)?file$|^pg_stat_file$|^pg_ls_|^pg_file_|^pg_logdir_ls$/, 'reads files on the database server'],
  [/^lo_/, 'reads or writes large objects'],
  [/^(query|cursor|table|schema|database)_to_xml/, 'runs SQL given as text'],
  [/^dblink/, 'opens another database connection'],
  [/^set_config$/, 'changes session settings (the role, the search path)'],
  [/^pg_(terminate|cancel)_backend$|^pg_reload_conf$|^pg_rotate_logfile$|^pg_notify$/, 'acts on the server or other sessions'],
  [/^pg_sleep|^pg_(try_)?advisory/, 'sleeps or takes locks'],
];

/** The names a SQL expression calls as functions (string literals skipped; quoted names unquoted). */
function calledFunctions(expression: string): string[] {
  const out: string[] = [];
  const re = /'(?:[^']|'')*'|"((?:[^"]|"")+)"\s*\(|([A-Za-z_][A-Za-z0-9_$]*)\s*\(/g;
  for (const m of expression.matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1].replaceAll('""', '"'));
    else if (m[2] !== undefined) out.push(m[2].toLowerCase());
  }
  return out;
}

/**
 * A derive expression is wrapped as `(<expr>)::float8` in one SELECT: refuse what could end that
 * statement, hide text from review, close the parenthesis early, or reach beyond the row.
 */
export function deriveExpressionProblem(expr: string): string | null {
  if (expr.trim().length === 0) return 'empty derive expression';
  if (expr.includes(';')) return 'a derive expression may not contain ";"';
  if (expr.includes('--') || expr.includes('/*')) return 'a derive expression may not contain SQL comments';
  if (expr.includes('$')) return 'a derive expression may not contain "$" (no parameters or dollar quoting)';
  let depth = 0;
  let quote: "'" | '"' | null = null;
  for (const ch of expr) {
    if (quote) {
      if (ch === quote) quote = null;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return 'unbalanced ")" in derive expression';
  }
  if (quote) return `unterminated ${quote === "'" ? 'string literal' : 'quoted identifier'} in derive expression`;
  if (depth !== 0) return 'unbalanced "(" in derive expression';
  for (const fn of calledFunctions(expr)) {
    const hit = FORBIDDEN.find(([re]) => re.test(fn));
    if (hit) return `calls ${fn}(), which ${hit[1]}; a derive expression may only compute on the row's columns`;
  }
  return null;
}

function listColumns(columns: string[]): string {
  const max = 20;
  return columns.length <= max ? columns.join(', ') : `${columns.slice(0, max).join(', ')}, ... (${columns.length - max} more)`;
}

/**
 * Every check of a pipeline's source, the ONE function behind both `pipelines validate` and the
 * retrain's extract (so validate never accepts what the retrain refuses): the derive expressions'
 * screen; then, with a READ ONLY transaction on the source (`tx`): the table, the time, entity
 * and source columns, derive expressions that use a column the pipeline does not read, and every
 * column and expression planned (LIMIT 0, each in a savepoint so all problems are found at once).
 */
export async function sourceIssues(tx: Queryable | null, source: SourceSpec): Promise<SourceIssue[]> {
  const issues: SourceIssue[] = [];
  const derive = Object.entries(source.derive ?? {});
  const screened = new Set<string>();
  for (const [name, expr] of derive) {
    const problem = deriveExpressionProblem(expr);
    if (problem) {
      issues.push({ path: ['source', 'derive', name], message: problem });
      screened.add(name);
    }
  }
  if (!tx) return issues;

  const table = quoteIdent(source.table);
  const rel = await tx.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [table]);
  if (!rel.rows[0]?.oid) return [...issues, { path: ['source', 'table'], message: `table "${source.table}" does not exist` }];
  const attrs = await tx.query<{ name: string; type: string }>(
    'SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
    [table],
  );
  const have = new Map(attrs.rows.map((r) => [r.name, r.type]));
  const missing = (c: string): string => `column "${c}" does not exist in table ${source.table} (has: ${listColumns([...have.keys()])})`;
  if (!have.has(source.time_column)) issues.push({ path: ['source', 'time_column'], message: missing(source.time_column) });
  else if (!/^(timestamp|date)/.test(have.get(source.time_column)!)) {
    issues.push({ path: ['source', 'time_column'], message: `column "${source.time_column}" is ${have.get(source.time_column)}, expected a timestamp` });
  }
  if (source.entity_column && !have.has(source.entity_column)) issues.push({ path: ['source', 'entity_column'], message: missing(source.entity_column) });
  if (source.key_column && !have.has(source.key_column)) issues.push({ path: ['source', 'key_column'], message: missing(source.key_column) });
  (source.categorical ?? []).forEach((c, i) => {
    if (!have.has(c)) issues.push({ path: ['source', 'categorical', i], message: missing(c) });
  });
  let columnsExist = true;
  source.columns.forEach((c, i) => {
    if (!have.has(c)) {
      issues.push({ path: ['source', 'columns', i], message: missing(c) });
      columnsExist = false;
    }
  });
  const read = new Set([...source.columns, ...(source.categorical ?? []), source.time_column, ...(source.entity_column ? [source.entity_column] : [])]);
  for (const [name, expr] of derive) {
    if (screened.has(name)) continue;
    for (const c of new Set(sqlIdentifiers(expr))) {
      if (have.has(c) && !read.has(c))
        issues.push({ path: ['source', 'derive', name], message: `expression uses column "${c}", which is not in source.columns; add it there` });
    }
  }
  // Planning a LIMIT 0 select catches type errors (a text column, a bad expression) with their field.
  const probe = async (path: PathSegment[], sql: string): Promise<void> => {
    await tx.query('SAVEPOINT mlops_probe');
    try {
      await tx.query(sql);
      await tx.query('RELEASE SAVEPOINT mlops_probe');
    } catch (err) {
      await tx.query('ROLLBACK TO SAVEPOINT mlops_probe');
      issues.push({ path, message: err instanceof Error ? err.message : String(err) });
    }
  };
  if (columnsExist) await probe(['source', 'columns'], `SELECT ${source.columns.map((c) => `${quoteIdent(c)}::float8`).join(', ')} FROM ${table} LIMIT 0`);
  for (const [name, expr] of derive) {
    if (!screened.has(name)) await probe(['source', 'derive', name], `SELECT (${expr})::float8 FROM ${table} LIMIT 0`);
  }
  return issues;
}

/** The source's issues as one message per line, `field: what is wrong` (how the retrain fails). */
export function formatSourceIssues(issues: readonly SourceIssue[]): string {
  return issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n');
}

/** sourceIssues against the database, as the extraction reads it (db.readSource: its role, READ ONLY). */
export function checkSource(db: Db, source: SourceSpec): Promise<SourceIssue[]> {
  return db.readSource((tx) => sourceIssues(tx, source));
}
