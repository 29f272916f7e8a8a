export { generateReadings, pumpEfficiency, stationId, HYDRAULIC_KW_PER_M3H_M, M_PER_BAR, NULL_PROBABILITY, SPIKE_PROBABILITY } from './generate.ts';
export type { GenerateOptions, Readings } from './generate.ts';
export { ensureReadingsTable, isReadingsTable, READINGS_TABLE, READINGS_COLUMNS, SENSOR_COLUMNS, FLAG_COLUMNS } from './table.ts';
export type { SensorColumn, FlagColumn } from './table.ts';
export { seedReadings, readingsCsv } from './seed.ts';
export type { SeedOptions, SeedResult } from './seed.ts';
export { importCsv, parseTime, CsvImportError, MAX_ERRORS } from './import.ts';
export type { ImportOptions, ImportResult } from './import.ts';
export { fingerprintReadings } from './fingerprint.ts';
