import { quoteIdent, type Queryable } from '../db/index.ts';

/** The demo source table. In production the data team owns it; only demo, seed and import create it. */
export const READINGS_TABLE = 'public.readings_wide';

/** The sensor columns (double precision, nullable), in table order. */
export const SENSOR_COLUMNS = [
  'tank_level_m',
  'inflow_m3h',
  'outflow_m3h',
  'pump_speed_rpm',
  'pump_power_kw',
  'suction_pressure_bar',
  'discharge_pressure_bar',
] as const;
export type SensorColumn = (typeof SENSOR_COLUMNS)[number];

/** The flag columns (smallint 0/1). */
export const FLAG_COLUMNS = ['pump_on', 'sensor_fault'] as const;
export type FlagColumn = (typeof FLAG_COLUMNS)[number];

/** Every column of the table, in table order. */
export const READINGS_COLUMNS = ['ts', 'station_id', ...SENSOR_COLUMNS, ...FLAG_COLUMNS] as const;

/** `readings_wide` and `public.readings_wide` (in any quoting-free spelling) are the demo table. */
export function isReadingsTable(table: string): boolean {
  return table === 'readings_wide' || table === READINGS_TABLE;
}

/**
 * Creates the demo table if it does not exist (idempotent). The primary key (station_id, ts) is
 * the index that serves a time window read ordered by station and time.
 */
export async function ensureReadingsTable(db: Queryable, table: string = READINGS_TABLE): Promise<void> {
  const name = quoteIdent(table);
  const sensors = SENSOR_COLUMNS.map((c) => `  ${quoteIdent(c)} double precision`).join(',\n');
  await db.exec(`CREATE TABLE IF NOT EXISTS ${name} (
  ts timestamptz NOT NULL,
  station_id text NOT NULL,
${sensors},
  pump_on smallint,
  sensor_fault smallint,
  PRIMARY KEY (station_id, ts)
)`);
}
