export { generateReadings, pumpEfficiency, stationId, HYDRAULIC_KW_PER_M3H_M, M_PER_BAR, NULL_PROBABILITY, SPIKE_PROBABILITY } from './generate.ts';
export type { GenerateOptions, Readings } from './generate.ts';
export { ensureReadingsTable, isReadingsTable, READINGS_TABLE, READINGS_COLUMNS, SENSOR_COLUMNS, FLAG_COLUMNS } from './table.ts';
export type { SensorColumn, FlagColumn } from './table.ts';
export { seedReadings, readingsCsv } from './seed.ts';
export type { SeedOptions, SeedResult } from './seed.ts';
export { importCsv, type ImportOptions } from './import.ts';
export { parseTime, CsvImportError, MAX_ERRORS, type ImportResult } from '../ingest/table-import.ts';
export { fingerprintReadings } from './fingerprint.ts';
export {
  generateCredit,
  seedCredit,
  creditOutcomesCsv,
  ensureCreditTables,
  APPLICATIONS_TABLE,
  OUTCOMES_TABLE,
  CREDIT_REGIONS,
  LABEL_DELAY_DAYS,
} from './credit.ts';
export type { CreditData, CreditOptions, CreditSeedOptions, CreditSeedResult } from './credit.ts';
