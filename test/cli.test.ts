import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, cpSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { mlops } from './helpers/cli.ts';

describe('the mlops command line', () => {
  let dir: string;
  let data: string;
  let pipelines: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlops-cli-'));
    data = join(dir, 'db');
    pipelines = join(dir, 'pipelines');
    mkdirSync(pipelines);
    // The demo pipeline with a small model so the test stays quick.
    const p = parse(readFileSync('pipelines/tank-level-forecast.yaml', 'utf8')) as Record<string, unknown>;
    p.trainer = { algorithm: 'gbdt', params: { trees: 20, max_depth: 4, learning_rate: 0.3 } };
    writeFileSync(join(pipelines, 'tank-level-forecast.yaml'), stringify(p));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists its commands', async () => {
    const r = await mlops(['--help']);
    expect(r.code).toBe(0);
    for (const c of [
      'db migrate',
      'data seed',
      'data import',
      'pipelines validate',
      'retrain',
      'runs list',
      'runs show',
      'promote',
      'deploy',
      'rollback',
      'registry show',
      'registry history',
      'registry verify',
    ]) {
      expect(r.stdout).toContain(`  ${c} `);
    }
  });

  it('loads no npm package for --help or a mistyped command (each command loads its own modules)', async () => {
    const record = { NODE_OPTIONS: `--import=${pathToFileURL(resolve('test/fixtures/record-packages.mjs')).href}` };
    for (const args of [['--help'], ['runs', 'lst']]) {
      const r = await mlops(args, record);
      expect(r.code, r.stderr).toBe(args[0] === '--help' ? 0 : 2);
      expect(JSON.parse(/^packages: (.*)$/m.exec(r.stderr)?.[1] ?? 'null'), args.join(' ')).toEqual([]);
    }
  });

  it('migrates, seeds, validates, retrains and shows the run', async () => {
    const m = await mlops(['db', 'migrate', '--data-dir', data]);
    expect(m.stdout).toMatch(/applied: 001_mlops_schema/);
    expect((await mlops(['db', 'migrate', '--data-dir', data])).stdout).toMatch(/up to date/);

    const s = await mlops(['data', 'seed', '--days', '32', '--start', '2026-10-01', '--seed', '3', '--data-dir', data]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^seeded 4\d,\d{3} rows into public\.readings_wide \(PS-001, 2026-10-01T00:00:00\.000Z -> 2026-11-02T00:00:00\.000Z\)/);

    const v = await mlops(['pipelines', 'validate', '--dir', pipelines, '--data-dir', data]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('ok  ');

    const r = await mlops([
      'retrain',
      '--dir',
      pipelines,
      '--as-of',
      '2026-11-02T00:00:00Z',
      '--json',
      '--data-dir',
      data,
      '--runs-dir',
      join(dir, 'runs'),
      '--repo',
      join(dir, 'no-registry-yet'),
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout.trim().split('\n')[0]);
    expect(doc).toMatchObject({ pipeline: 'tank-level-forecast', decision: 'promote', status: 'succeeded' });

    // runs list prints runs: it loads the database driver and no other npm package (no schema library)
    const record = { NODE_OPTIONS: `--import=${pathToFileURL(resolve('test/fixtures/record-packages.mjs')).href}` };
    const list = await mlops(['runs', 'list', '--data-dir', data], record);
    expect(list.stdout).toContain(doc.run_id);
    expect(list.stdout).toMatch(/succeeded\s+promote/);
    expect(JSON.parse(/^packages: (.*)$/m.exec(list.stderr)?.[1] ?? 'null')).toEqual(['@electric-sql/pglite']);
    const show = await mlops(['runs', 'show', doc.run_id, '--data-dir', data]);
    expect(show.stdout).toContain(`## tank-level-forecast: retrain ${doc.run_id}`);
  });

  it('exits 2 with the usage on bad options and 1 with a clear message on errors', async () => {
    const bad = await mlops(['data', 'seed', '--days', 'many', '--data-dir', data]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('mlops data seed: --days: expected a number > 0, got "many"');
    const negative = await mlops(['runs', 'list', '--limit=-5', '--data-dir', data]);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('mlops runs list: --limit: expected a whole number >= 1, got "-5"');
    const version = await mlops(['rollback', '--model', 'tank-level-forecast', '--to', 'abc']);
    expect(version.code).toBe(2);
    expect(version.stderr).toContain('mlops rollback: --to: expected a whole number >= 1, got "abc"');
    const typo = await mlops(['retrian', '--pipeline', 'x']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('mlops: unknown command "retrian"; did you mean "retrain"? (npm run mlops -- --help lists the commands)\n');
    const runs = await mlops(['runs', 'lst']);
    expect(runs.stderr).toContain('did you mean "runs list"?');
    expect((await mlops(['frobnicate'])).stderr).toBe('mlops: unknown command "frobnicate" (npm run mlops -- --help lists the commands)\n');
    const none = await mlops(['retrain', '--pipeline', 'nope', '--dir', pipelines, '--data-dir', data]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no pipeline named "nope" in ${pipelines}/ (have: tank-level-forecast)`);
    expect(none.stderr).toContain('usage: npm run mlops -- retrain');
    const missing = await mlops(['runs', 'show', 'no-such-run', '--data-dir', data]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no run "no-such-run"/);
  });

  it('runs every pipeline even when one fails, records the failures and exits 1', async () => {
    const empty = join(dir, 'empty-db');
    const r = await mlops(['retrain', '--as-of', '2026-11-02T00:00:00Z', '--data-dir', empty, '--runs-dir', join(dir, 'runs')]);
    expect(r.code).toBe(1);
    for (const name of ['pump-efficiency', 'tank-level-forecast']) {
      expect(r.stderr).toMatch(new RegExp(`${name}: 💥 failed \\(run [^)]+, recorded as failed\\): source\\.table: table "readings_wide" does not exist`));
    }
    expect(r.stderr).toMatch(/credit-default: 💥 failed \(run [^)]+, recorded as failed\): source\.table: table "\w+" does not exist/);
    expect(r.stderr).toContain('npm run mlops -- data seed --days 45');
    const list = await mlops(['runs', 'list', '--data-dir', empty]);
    expect(list.stdout.match(/\bfailed\s+failed\b/g)).toHaveLength(3);
  });

  it('reports a broken pipeline file with file, line and field, and exits 1', async () => {
    const broken = join(dir, 'broken');
    cpSync(pipelines, broken, { recursive: true });
    const file = join(broken, 'tank-level-forecast.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/min_improvement_pct: 2/, 'min_improvement_pct: two'));
    const r = await mlops(['pipelines', 'validate', '--dir', broken, '--no-db']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tank-level-forecast\.yaml:\d+:\d+ gates\.min_improvement_pct: expected a number >= 0, got "two"/);
  });

  it('says when the repository path or the git binary is missing', async () => {
    const nowhere = join(dir, 'no-such-checkout');
    const r = await mlops(['registry', 'history', '--repo', nowhere]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the repository path ${nowhere} does not exist (pass --repo the checkout that holds registry/production.json)`);
    const noGit = await mlops(['registry', 'history', '--repo', dir], { PATH: join(dir, 'empty-path') });
    expect(noGit.code).toBe(1);
    expect(noGit.stderr).toContain('git is not installed or not on PATH: install git');
  });

  it('never prints a database password', async () => {
    const r = await mlops(['db', 'migrate', '--database-url', 'postgres://app:hunter2@127.0.0.1:1/nowhere']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('postgres://app:***@127.0.0.1:1/nowhere');
    expect(r.stdout + r.stderr).not.toContain('hunter2');
    // libpq's keyword form: accepted, and its password masked too.
    const kw = await mlops(['db', 'migrate', '--database-url', "host=127.0.0.1 port=1 dbname=nowhere user=app password='hunter 2'"]);
    expect(kw.code).toBe(1);
    expect(kw.stderr).toContain('cannot connect to PostgreSQL at host=127.0.0.1 port=1 dbname=nowhere user=app password=***: ');
    expect(kw.stdout + kw.stderr).not.toContain('hunter');
    const bad = await mlops(['db', 'migrate', '--database-url', 'host=db service=prod']);
    expect(bad.stderr).toContain('connection string: unsupported keyword "service"');
  });
});
