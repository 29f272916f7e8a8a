import { describe, expect, it } from 'vitest';
import {
  fingerprintReadings,
  generateReadings,
  pumpEfficiency,
  readingsCsv,
  seedReadings,
  SENSOR_COLUMNS,
  type Readings,
} from '../actions/lib/demo-data/index.ts';
import { describeDb } from './helpers/db.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const START = new Date('2026-01-05T00:00:00Z');

function efficiencies(r: Readings, from: number, to: number): number[] {
  const c = r.columns;
  const out: number[] = [];
  for (let i = 0; i < r.rows; i++) {
    if (!r.pumpOn[i] || r.sensorFault[i] || r.times[i] < from || r.times[i] >= to) continue;
    const e = pumpEfficiency(c.inflow_m3h[i], c.suction_pressure_bar[i], c.discharge_pressure_bar[i], c.pump_power_kw[i]);
    if (!Number.isNaN(e)) out.push(e);
  }
  return out;
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];

describe('generateReadings', () => {
  const base = generateReadings({ days: 30, stations: 2, seed: 11, start: START });

  it('is deterministic for a seed and differs across seeds', () => {
    const again = generateReadings({ days: 30, stations: 2, seed: 11, start: START });
    expect(fingerprintReadings(again)).toBe(fingerprintReadings(base));
    const other = generateReadings({ days: 30, stations: 2, seed: 12, start: START });
    expect(fingerprintReadings(other)).not.toBe(fingerprintReadings(base));
  });

  it('covers the window per station, ordered by station then time, with short gaps only', () => {
    expect(base.stationIds).toEqual(['PS-001', 'PS-002']);
    expect(base.start.toISOString()).toBe(START.toISOString());
    expect(base.end.getTime()).toBe(START.getTime() + 30 * DAY_MS);
    const perStation = [0, 0];
    let gaps = 0;
    let bad = 0;
    for (let i = 0; i < base.rows; i++) {
      perStation[base.stations[i]]++;
      if (i > 0 && base.stations[i] === base.stations[i - 1]) {
        const step = base.times[i] - base.times[i - 1];
        if (!(step > 0 && step <= 30 * 60_000)) bad++;
        if (step > 60_000) gaps++;
      } else if (i > 0 && !(base.stations[i] > base.stations[i - 1])) bad++;
    }
    expect(bad).toBe(0);
    // ~1-3 gaps per 10 days per station, 10..29 rows each
    expect(gaps).toBeGreaterThanOrEqual(2);
    expect(gaps).toBeLessThanOrEqual(20);
    for (const n of perStation) expect(n).toBeGreaterThan(30 * 1440 - 20 * 29 - 1);
    expect(perStation[0] + perStation[1]).toBe(base.rows);
  });

  it('long gaps only when asked for', () => {
    const r = generateReadings({ days: 10, stations: 1, seed: 3, start: START, longGaps: 2 });
    let longest = 0;
    for (let i = 1; i < r.rows; i++) longest = Math.max(longest, r.times[i] - r.times[i - 1]);
    expect(longest).toBeGreaterThan(45 * 60_000);
  });

  it('keeps the physics sane: level within the tank apart from spikes, flows and speeds plausible', () => {
    const c = base.columns;
    let running = 0;
    let runningWithFlow = 0;
    let bad = 0;
    for (let i = 0; i < base.rows; i++) {
      if (base.sensorFault[i]) continue;
      const level = c.tank_level_m[i];
      if (level < -0.05 || level > 12.05) bad++;
      const speed = c.pump_speed_rpm[i];
      if (speed < 0 || speed > 3000 || (!base.pumpOn[i] && speed !== 0 && !Number.isNaN(speed))) bad++;
      if (base.pumpOn[i]) {
        running++;
        if (c.inflow_m3h[i] > 0) runningWithFlow++;
        if (c.discharge_pressure_bar[i] <= c.suction_pressure_bar[i]) bad++;
      }
    }
    expect(bad).toBe(0);
    expect(running / base.rows).toBeGreaterThan(0.3);
    expect(running / base.rows).toBeLessThan(0.95);
    expect(runningWithFlow / running).toBeGreaterThan(0.99);
    // efficiency from the columns, while the pump runs: mostly 0.5 .. 0.85
    const eff = efficiencies(base, 0, Number.POSITIVE_INFINITY);
    const inside = eff.filter((e) => e >= 0.5 && e <= 0.85).length / eff.length;
    expect(inside).toBeGreaterThan(0.95);
    // mean inflow ~ mean outflow over a month (the tank level is bounded)
    let qin = 0;
    let qout = 0;
    for (let i = 0; i < base.rows; i++) {
      if (base.stations[i] !== 0 || base.sensorFault[i]) continue;
      qin += c.inflow_m3h[i] || 0;
      qout += c.outflow_m3h[i] || 0;
    }
    expect(Math.abs(qin - qout) / qout).toBeLessThan(0.05);
  });

  it('has daily demand peaks and a quieter weekend', () => {
    const c = base.columns;
    const byHour = new Float64Array(24);
    const counts = new Float64Array(24);
    let weekday = 0;
    let weekdayN = 0;
    let weekend = 0;
    let weekendN = 0;
    for (let i = 0; i < base.rows; i++) {
      const v = c.outflow_m3h[i];
      if (base.stations[i] !== 0 || base.sensorFault[i] || Number.isNaN(v)) continue;
      const d = new Date(base.times[i]);
      const dow = d.getUTCDay();
      if (dow === 0 || dow === 6) {
        weekend += v;
        weekendN++;
      } else {
        weekday += v;
        weekdayN++;
        byHour[d.getUTCHours()] += v;
        counts[d.getUTCHours()]++;
      }
    }
    const h = (k: number): number => byHour[k] / counts[k];
    expect(h(7)).toBeGreaterThan(1.5 * h(3));
    expect(h(19)).toBeGreaterThan(1.3 * h(3));
    expect(weekend / weekendN).toBeLessThan(weekday / weekdayN);
  });

  it('has ~0.1% NULLs, rare spikes flagged by sensor_fault', () => {
    let nulls = 0;
    let spikes = 0;
    let spikesFlagged = 0;
    for (const name of SENSOR_COLUMNS) {
      const a = base.columns[name];
      for (let i = 0; i < base.rows; i++) {
        const v = a[i];
        if (Number.isNaN(v)) nulls++;
        else if (v < -0.5 || v > 5000 || (name === 'tank_level_m' && v > 12.5) || (name.endsWith('_bar') && v > 50)) {
          spikes++;
          if (base.sensorFault[i]) spikesFlagged++;
        }
      }
    }
    const share = nulls / (base.rows * SENSOR_COLUMNS.length);
    expect(share).toBeGreaterThan(0.0006);
    expect(share).toBeLessThan(0.0015);
    expect(spikes).toBeGreaterThan(0);
    expect(spikes / base.rows).toBeLessThan(0.0005);
    expect(spikesFlagged).toBe(spikes);
  });

  it('drift lowers the pump efficiency and raises demand', () => {
    const driftFrom = new Date(START.getTime() + 14 * DAY_MS);
    const drifted = generateReadings({ days: 30, stations: 2, seed: 11, start: START, driftFrom });
    // identical before the drift starts
    const beforeDrift = (r: Readings): number => r.times.findIndex((t) => t >= driftFrom.getTime());
    expect(beforeDrift(drifted)).toBe(beforeDrift(base));
    const n = beforeDrift(base);
    expect(Array.from(drifted.columns.pump_power_kw.subarray(0, n))).toEqual(Array.from(base.columns.pump_power_kw.subarray(0, n)));
    const before = median(efficiencies(drifted, START.getTime(), driftFrom.getTime()));
    const after = median(efficiencies(drifted, driftFrom.getTime() + 10 * DAY_MS, Number.POSITIVE_INFINITY));
    expect(before).toBeGreaterThan(0.65);
    expect(after).toBeLessThan(before * 0.92);
    const meanOut = (r: Readings, from: number): number => {
      let s = 0;
      let k = 0;
      for (let i = 0; i < r.rows; i++) {
        const v = r.columns.outflow_m3h[i];
        if (r.times[i] >= from && !r.sensorFault[i] && !Number.isNaN(v)) {
          s += v;
          k++;
        }
      }
      return s / k;
    };
    const t = driftFrom.getTime() + 4 * DAY_MS;
    expect(meanOut(drifted, t) / meanOut(base, t)).toBeGreaterThan(1.15);
  });

  it('writes CSV that round-trips every number', async () => {
    const r = generateReadings({ days: 1, stations: 1, seed: 5, start: START });
    const chunks: string[] = [];
    for await (const c of readingsCsv(r, 500)) chunks.push(c);
    expect(chunks.length).toBe(Math.ceil(r.rows / 500));
    const lines = chunks.join('').trimEnd().split('\n');
    expect(lines.length).toBe(r.rows);
    let bad = 0;
    for (let i = 0; i < r.rows; i++) {
      const f = lines[i].split(',');
      if (f[0] !== new Date(r.times[i]).toISOString() || f[1] !== 'PS-001') bad++;
      SENSOR_COLUMNS.forEach((name, k) => {
        const v = r.columns[name][i];
        if (Number.isNaN(v) ? f[2 + k] !== '' : Number(f[2 + k]) !== v) bad++;
      });
    }
    expect(bad).toBe(0);
  });
});

describeDb('seedReadings', ({ db }) => {
  const opts = { days: 2, stations: 2, seed: 21, start: START };

  it('loads every generated row, byte-exact floats', async () => {
    const expected = generateReadings(opts);
    const r = await seedReadings(db(), opts);
    expect(r).toMatchObject({ rows: expected.rows, replaced: 0, stations: ['PS-001', 'PS-002'], table: 'public.readings_wide' });
    expect(r.start.toISOString()).toBe(START.toISOString());
    expect(r.end.toISOString()).toBe(new Date(START.getTime() + 2 * DAY_MS).toISOString());
    const { rows } = await db().query<{ n: number; stations: number; lo: string; sum_level: number; sum_power: number; nulls: number; on: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT station_id)::int AS stations, sum(tank_level_m) AS sum_level,
              sum(pump_power_kw) AS sum_power, count(*) FILTER (WHERE tank_level_m IS NULL)::int AS nulls, sum(pump_on)::int AS on
         FROM public.readings_wide`,
    );
    expect(rows[0].n).toBe(expected.rows);
    expect(rows[0].stations).toBe(2);
    expect(rows[0].on).toBe(expected.pumpOn.reduce((a, b) => a + b, 0));
    expect(rows[0].nulls).toBe(expected.columns.tank_level_m.filter((v) => Number.isNaN(v)).length);
    // one row compared exactly
    const i = 1234;
    const one = await db().query<{ v: number; p: number }>(
      'SELECT tank_level_m AS v, pump_power_kw AS p FROM public.readings_wide WHERE station_id = $1 AND ts = $2',
      [expected.stationIds[expected.stations[i]], new Date(expected.times[i]).toISOString()],
    );
    const v = expected.columns.tank_level_m[i];
    expect(one.rows[0].v).toBe(Number.isNaN(v) ? null : v);
    const p = expected.columns.pump_power_kw[i];
    expect(one.rows[0].p).toBe(Number.isNaN(p) ? null : p);
  });

  it('re-seeding the same window is idempotent (replaces, no duplicate keys)', async () => {
    const count = async (): Promise<number> => (await db().query<{ n: number }>('SELECT count(*)::int AS n FROM public.readings_wide')).rows[0].n;
    const before = await count();
    const again = await seedReadings(db(), opts);
    expect(again.replaced).toBe(before);
    expect(await count()).toBe(before);
    // an overlapping window: only [start, end) of those stations is replaced
    const shifted = await seedReadings(db(), { ...opts, days: 2, start: new Date(START.getTime() + DAY_MS) });
    const extra = (await db().query<{ n: number }>('SELECT count(*)::int AS n FROM public.readings_wide WHERE ts >= $1', [shifted.start.toISOString()])).rows[0]
      .n;
    expect(extra).toBe(shifted.rows);
    expect(shifted.replaced).toBeGreaterThan(0);
  });

  it('writes to another table when asked, and a failed re-seed changes nothing', async () => {
    const table = 'public.readings_other';
    const count = async (): Promise<number> => (await db().query<{ n: number }>('SELECT count(*)::int AS n FROM public.readings_other')).rows[0].n;
    const r = await seedReadings(db(), { days: 1, stations: 1, seed: 1, start: START, table });
    expect(await count()).toBe(r.rows);
    // a constraint the new rows break: the DELETE of the window and the COPY roll back together
    await db().exec('ALTER TABLE public.readings_other ADD CONSTRAINT slow CHECK (pump_speed_rpm IS NULL OR pump_speed_rpm < 1000) NOT VALID');
    await expect(seedReadings(db(), { days: 1, stations: 1, seed: 2, start: START, table })).rejects.toThrow(/slow/);
    expect(await count()).toBe(r.rows);
    await expect(seedReadings(db(), { days: 0, stations: 1, seed: 1, start: START })).rejects.toThrow(/days must be > 0/);
  });
});
