/**
 * `data import`: a CSV into a table, by default the demo's `readings_wide` (created if missing);
 * any other table must exist. The reading and checking are ingest/table-import.ts's.
 */
import type { Db } from '../db/index.ts';
import { importCsvTable, type ImportResult } from '../ingest/table-import.ts';
import { ensureReadingsTable, isReadingsTable } from './table.ts';

export interface ImportOptions {
  /** default `readings_wide` (created if missing); any other table must exist */
  table?: string;
}

export async function importCsv(db: Db, file: string, options: ImportOptions = {}): Promise<ImportResult> {
  const table = options.table ?? 'readings_wide';
  if (isReadingsTable(table)) await ensureReadingsTable(db, table);
  return importCsvTable(db, file, table);
}
