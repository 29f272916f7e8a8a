import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { classificationPipelineSchema, type ClassificationPipeline } from '../actions/lib/config/schema.ts';
import { ensureCreditTables } from '../actions/lib/demo-data/index.ts';
import { CsvImportError } from '../actions/lib/ingest/table-import.ts';
import { importLabels } from '../actions/lib/labels/import.ts';
import { mlops } from './helpers/cli.ts';
import { openMigratedDb } from '../actions/lib/db/index.ts';

const base = loadPipelineFile('pipelines/credit-default.yaml') as ClassificationPipeline;
const pipeline = (labels: Partial<ClassificationPipeline['labels']> = {}): ClassificationPipeline =>
  classificationPipelineSchema.parse({ ...base, labels: { ...base.labels, ...labels } });

let dir: string;
let counter = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'labels-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function csvFile(lines: string[]): string {
  const file = join(dir, `labels${++counter}.csv`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CsvImportError) return err.message;
    throw err;
  }
  throw new Error('expected the import to fail');
}

describeDb('labels import', ({ db }) => {
  const outcomes = async (): Promise<{ application_id: string; defaulted: number; known_at: string }[]> =>
    (
      await db().query<{ application_id: string; defaulted: number; known_at: string }>(
        `SELECT application_id, defaulted::int AS defaulted, to_char(known_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS known_at
       FROM loan_outcomes ORDER BY application_id, known_at`,
      )
    ).rows;

  beforeAll(async () => {
    await ensureCreditTables(db());
    await db().exec(`INSERT INTO loan_applications (application_id, applied_at, region, income, debt_ratio, age, history_months) VALUES
      ('A1', '2026-01-01T09:00:00Z', 'north', 3000, 0.3, 40, 100),
      ('A2', '2026-01-01T10:00:00Z', 'east', 2000, 0.6, 25, 10),
      ('A3', '2026-01-02T11:00:00Z', 'west', 4000, 0.2, 50, 200)`);
  });

  it('imports labels all at once, and a re-import of the same file changes nothing', async () => {
    const file = csvFile(['application_id,defaulted,known_at', 'A1,0,2026-02-01T09:00:00Z', 'A2,1,2026-02-01T10:00:00Z', '"A3",1,2026-02-02T11:00:00+00:00']);
    const first = await importLabels(db(), file, pipeline());
    expect(first).toEqual({
      file,
      pipeline: 'credit-default',
      table: 'loan_outcomes',
      rows: 3,
      inserted: 3,
      unchanged: 0,
      skipped: 0,
      unknown_keys: 0,
      positives: 2,
    });
    expect(await outcomes()).toEqual([
      { application_id: 'A1', defaulted: 0, known_at: '2026-02-01T09:00:00Z' },
      { application_id: 'A2', defaulted: 1, known_at: '2026-02-01T10:00:00Z' },
      { application_id: 'A3', defaulted: 1, known_at: '2026-02-02T11:00:00Z' },
    ]);
    const again = await importLabels(db(), file, pipeline());
    expect(again).toMatchObject({ rows: 3, inserted: 0, unchanged: 3 });
    // An overlapping file adds only its new row: a correction of A1 known later.
    const more = csvFile(['known_at,application_id,defaulted', '2026-02-01T09:00:00Z,A1,0', '2026-03-01T00:00:00Z,A1,1']);
    expect(await importLabels(db(), more, pipeline())).toMatchObject({ rows: 2, inserted: 1, unchanged: 1, positives: 1 });
    expect((await outcomes()).length).toBe(4);
  });

  it('refuses bad values, naming line, column and value, and imports nothing', async () => {
    const file = csvFile([
      'application_id,defaulted,known_at',
      'A1,2,2026-04-01T00:00:00Z',
      'A2,maybe,2026-04-01T00:00:00Z',
      'A3,1,yesterday',
      ',1,2026-04-01T00:00:00Z',
      'A2,1,2026-04-02T00:00:00Z',
    ]);
    expect(await failure(importLabels(db(), file, pipeline()))).toBe(
      [
        `${file}:2: column "defaulted": "2" is not a label: expected 1 or 0, true or false (or name the positive value in labels.positive)`,
        `${file}:3: column "defaulted": "maybe" is not a number`,
        `${file}:4: column "known_at": "yesterday" is not an ISO-8601 time with offset or epoch milliseconds`,
        `${file}:5: column "application_id": empty, but the column is NOT NULL`,
      ].join('\n'),
    );
    expect((await outcomes()).length).toBe(4);
  });

  it('names the missing columns the pipeline needs', async () => {
    const file = csvFile(['application_id,outcome', 'A1,1']);
    expect(await failure(importLabels(db(), file, pipeline()))).toBe(
      [
        `${file}:1: unknown column "outcome" (table loan_outcomes has: application_id, defaulted, known_at)`,
        `${file}:1: missing column "defaulted" (the labels of credit-default are application_id, defaulted, known_at)`,
        `${file}:1: missing column "known_at" (the labels of credit-default are application_id, defaulted, known_at)`,
      ].join('\n'),
    );
  });

  it('refuses a key and time twice in the file, and a different label for a row already imported', async () => {
    const dup = csvFile(['application_id,defaulted,known_at', 'A3,1,2026-05-01T00:00:00Z', 'A3,0,2026-05-01T00:00:00Z']);
    expect(await failure(importLabels(db(), dup, pipeline()))).toBe(
      `${dup}:3: duplicate (application_id, known_at) = (A3, 2026-05-01T00:00:00.000Z), first seen on line 2`,
    );
    const changed = csvFile(['application_id,defaulted,known_at', 'A3,1,2026-06-01T00:00:00Z', 'A2,0,2026-02-01T10:00:00Z']);
    expect(await failure(importLabels(db(), changed, pipeline()))).toBe(
      `${changed}:3: (application_id, known_at) = (A2, 2026-02-01T10:00:00.000Z) is already in loan_outcomes with defaulted = 1, not 0 ` +
        '(a correction is a new row with a later known_at)',
    );
    // All or nothing: the good row of that file is not there either.
    expect((await outcomes()).filter((o) => o.known_at.startsWith('2026-06'))).toEqual([]);
  });

  it('refuses keys the source does not have, unless told to skip or keep them', async () => {
    const file = csvFile(['application_id,defaulted,known_at', 'A9,1,2026-07-01T00:00:00Z', 'A1,0,2026-07-01T00:00:00Z', 'B7,0,2026-07-01T00:00:00Z']);
    expect(await failure(importLabels(db(), file, pipeline()))).toBe(
      [
        `${file}:2: column "application_id": "A9" is not a key of loan_applications (application_id)`,
        `${file}:4: column "application_id": "B7" is not a key of loan_applications (application_id)`,
        `${file}: 2 label(s) name a key that loan_applications does not have; nothing was imported ` +
          '(--unknown-keys skip leaves them out, --unknown-keys keep imports them for cases loaded later)',
      ].join('\n'),
    );
    expect(await importLabels(db(), file, pipeline(), { unknownKeys: 'skip' })).toMatchObject({
      rows: 3,
      inserted: 1,
      skipped: 2,
      unknown_keys: 0,
      positives: 0,
    });
    expect((await outcomes()).map((o) => o.application_id)).not.toContain('A9');
    expect(await importLabels(db(), file, pipeline(), { unknownKeys: 'keep' })).toMatchObject({
      rows: 3,
      inserted: 2,
      unchanged: 1,
      skipped: 0,
      unknown_keys: 2,
      positives: 1,
    });
    expect((await outcomes()).map((o) => o.application_id)).toEqual(expect.arrayContaining(['A9', 'B7']));
  });

  it("creates a missing labels table from the pipeline's labels section, typed for labels.positive", async () => {
    const p = pipeline({ table: 'public.crm_outcomes', label_column: 'outcome', positive: 'default' });
    const file = csvFile(['application_id,outcome,known_at', 'A1,default,2026-02-01T00:00:00Z', 'A2,repaid,2026-02-01T00:00:00Z']);
    expect(await importLabels(db(), file, p)).toMatchObject({ table: 'public.crm_outcomes', inserted: 2, positives: 1 });
    const { rows } = await db().query<{ column_name: string; data_type: string }>(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'crm_outcomes' ORDER BY ordinal_position",
    );
    expect(rows).toEqual([
      { column_name: 'application_id', data_type: 'text' },
      { column_name: 'outcome', data_type: 'text' },
      { column_name: 'known_at', data_type: 'timestamp with time zone' },
    ]);
  });
});

it('mlops labels import: the command and its usage errors', async () => {
  const data = mkdtempSync(join(tmpdir(), 'labels-cli-'));
  try {
    const file = csvFile(['application_id,defaulted,known_at', 'A1,1,2026-02-01T00:00:00Z']);
    const common = ['--data-dir', join(data, 'db'), '--csv', file];
    // The source table, written in this process (one CLI process less to start); A1 is none of its keys.
    const { db: seeded } = await openMigratedDb({ dataDir: join(data, 'db'), ignoreEnv: true });
    await ensureCreditTables(seeded);
    await seeded.close();
    // The usage errors come before the database is opened: the three run side by side.
    const [kept, bad, policy] = await Promise.all([
      mlops(['labels', 'import', ...common, '--pipeline', 'credit-default', '--unknown-keys', 'keep']),
      mlops(['labels', 'import', ...common, '--pipeline', 'tank-level-forecast']),
      mlops(['labels', 'import', ...common, '--pipeline', 'credit-default', '--unknown-keys', 'drop']),
    ]);
    expect(kept.stderr).toBe('');
    expect(kept.stdout.trim()).toBe(
      `1 new label(s) from ${file} into loan_outcomes for credit-default (1 in the file: 0 already there, 1 with keys not in the source yet; 1 positive)`,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('tank-level-forecast is a regression pipeline; labels belong to classification pipelines');
    expect(policy.code).toBe(2);
    expect(policy.stderr).toContain('--unknown-keys: expected error, skip, keep, got "drop"');
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
