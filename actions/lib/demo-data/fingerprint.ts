import { createHash } from 'node:crypto';
import type { Readings } from './generate.ts';
import { SENSOR_COLUMNS } from './table.ts';

/** sha256 over every array of the readings (and the station ids): equal iff the data is bit-for-bit equal. */
export function fingerprintReadings(r: Readings): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ rows: r.rows, start: r.start.toISOString(), end: r.end.toISOString(), stations: r.stationIds }));
  const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  h.update(bytes(r.stations));
  h.update(bytes(r.times));
  for (const c of SENSOR_COLUMNS) h.update(bytes(r.columns[c]));
  h.update(bytes(r.pumpOn));
  h.update(bytes(r.sensorFault));
  return h.digest('hex');
}
