import type { Queryable } from '../db/index.ts';

/** Columns of a table as the database knows them, or null when there is no such table. */
export async function tableColumns(db: Queryable, table: string): Promise<string[] | null> {
  const [schema, name] = table.includes('.') ? table.split('.', 2) : [null, table];
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position`,
    [schema, name],
  );
  return rows.length ? rows.map((r) => r.column_name) : null;
}
