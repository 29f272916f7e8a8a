/**
 * A deterministic simulator of water pump stations at 1-minute resolution, producing columnar
 * readings for the demo table (`readings_wide`).
 *
 * Per station: a demand (outflow) with daily and weekly cycles, day-to-day variation and
 * autocorrelated noise; a tank whose level integrates inflow minus outflow; a variable-speed pump
 * switched by hysteresis on the level (start below `lowM`, stop above `highM`) whose speed
 * controller ramps toward the speed that delivers ~1.6x the smoothed demand. The operating point is
 * where the pump curve, scaled by the affinity laws (H = H0 (n/n0)^2 - k Q^2), meets the system
 * curve (static head + tank level + c Q^2). Efficiency follows a best-efficiency-point curve in
 * Q/n, so `hydraulic power / electrical power` is learnable from flow, speed and head.
 *
 * Then the sensors: noise on every reading, rounded to a realistic resolution; ~0.1% NULLs;
 * ~0.01% out-of-range spikes (flagged by `sensor_fault` around them); a few gaps of missing rows.
 * Optional drift from `driftFrom`: impeller wear (efficiency -15% over two weeks, so more power for
 * the same hydraulic work) and a demand shift (+25% over three days, peaks later in the day).
 *
 * Same options -> the same arrays, bit for bit.
 */
import { Rng } from './prng.ts';
import { SENSOR_COLUMNS, type SensorColumn } from './table.ts';
import { DAY_MS, MINUTE_MS } from '../util/duration.ts';

export interface GenerateOptions {
  /** length of the window in days (fractions allowed, rounded to whole minutes) */
  days: number;
  /** number of stations: PS-001, PS-002, ... */
  stations: number;
  /** any integer */
  seed: number;
  /** start of the window, floored to the minute */
  start: Date;
  /** drift (impeller wear and a demand shift) begins here */
  driftFrom?: Date;
  /**
   * Extra gaps per station of 45..240 missing minutes (to exercise the quality gate). Default 0:
   * then every gap is 10..29 missing rows, so consecutive readings are never more than 30 min apart.
   */
  longGaps?: number;
}

/** Columnar readings, ordered by station then time (the primary key order). */
export interface Readings {
  rows: number;
  /** [start, end) of the window */
  start: Date;
  end: Date;
  stationIds: string[];
  /** index into `stationIds` per row */
  stations: Int32Array;
  /** epoch milliseconds per row */
  times: Float64Array;
  /** sensor readings; NaN = NULL */
  columns: Record<SensorColumn, Float64Array>;
  /** 1 while the pump is commanded on */
  pumpOn: Uint8Array;
  /** 1 around an out-of-range spike */
  sensorFault: Uint8Array;
}

/** rho * g / (3600 s/h * 1000 W/kW): kW per (m3/h * m) */
export const HYDRAULIC_KW_PER_M3H_M = (1000 * 9.80665) / 3600 / 1000;
/** metres of water column per bar */
export const M_PER_BAR = 10.197;

export const NULL_PROBABILITY = 0.001;
export const SPIKE_PROBABILITY = 0.0001;
const GAPS_PER_DAY = 0.2;
const WARMUP_MINUTES = 1440;

interface StationModel {
  id: string;
  areaM2: number;
  heightM: number;
  lowM: number;
  highM: number;
  ratedRpm: number;
  minRatio: number;
  /** max speed change per minute, as a fraction of rated speed */
  rampRatio: number;
  /** shut-off head at rated speed (m) */
  h0: number;
  kPump: number;
  cSys: number;
  staticHeadM: number;
  /** flow at the best efficiency point, at rated speed (m3/h) */
  qBep: number;
  etaMax: number;
  qNom: number;
  demandMean: number;
  suctionBar: number;
}

const TEMPLATES = [
  { flow: 1.0, area: 120, rpm: 1480, h0: 48, hs: 13, eta: 0.78, low: 3.5, high: 9.5, suction: 1.4 },
  { flow: 0.6, area: 75, rpm: 2960, h0: 52, hs: 16, eta: 0.76, low: 3.0, high: 9.0, suction: 1.1 },
  { flow: 1.5, area: 190, rpm: 1480, h0: 45, hs: 11, eta: 0.8, low: 4.0, high: 10.0, suction: 1.7 },
  { flow: 0.8, area: 95, rpm: 1780, h0: 50, hs: 14, eta: 0.77, low: 3.2, high: 9.2, suction: 1.25 },
] as const;

export function stationId(index: number): string {
  return `PS-${String(index + 1).padStart(3, '0')}`;
}

function stationModel(index: number): StationModel {
  const t = TEMPLATES[index % TEMPLATES.length];
  // Stations past the templates vary them a little, deterministically by index.
  const cycle = Math.floor(index / TEMPLATES.length);
  const v = cycle === 0 ? 1 : 1 + 0.04 * (((cycle * 37) % 7) - 3);
  const flow = t.flow * v;
  const qNom = 240 * flow;
  const kc = (t.h0 - t.hs - 6) / (qNom * qNom);
  const heightM = 12;
  return {
    id: stationId(index),
    areaM2: t.area * v,
    heightM,
    lowM: t.low,
    highM: t.high,
    ratedRpm: t.rpm,
    minRatio: Math.max(0.55, Math.sqrt((t.hs + t.high + 2) / t.h0)),
    rampRatio: 0.04,
    h0: t.h0,
    kPump: 0.7 * kc,
    cSys: 0.3 * kc,
    staticHeadM: t.hs,
    qBep: 0.9 * qNom,
    etaMax: t.eta,
    qNom,
    demandMean: 0.5 * qNom,
    suctionBar: t.suction,
  };
}

/** a bump of width `sd` hours centred at `mu` on the 24 h circle */
function bump(hour: number, mu: number, sd: number): number {
  let d = Math.abs(hour - mu);
  if (d > 12) d = 24 - d;
  return Math.exp(-0.5 * (d / sd) * (d / sd));
}

function weekdayShape(h: number): number {
  return 0.5 + 0.8 * bump(h, 7.5, 1.3) + 0.6 * bump(h, 19.5, 1.8) + 0.25 * bump(h, 13, 3);
}
function weekendShape(h: number): number {
  return 0.9 * (0.5 + 0.55 * bump(h, 9.5, 1.8) + 0.5 * bump(h, 19, 2) + 0.3 * bump(h, 14, 3));
}
/** after the demand shift: peaks later and a fuller midday */
function driftedWeekdayShape(h: number): number {
  return 0.5 + 0.6 * bump(h, 9, 1.6) + 0.7 * bump(h, 21, 1.8) + 0.45 * bump(h, 14, 3);
}
function driftedWeekendShape(h: number): number {
  return 0.9 * (0.5 + 0.45 * bump(h, 11, 2) + 0.6 * bump(h, 20.5, 2) + 0.4 * bump(h, 15, 3));
}

const SHAPE_NORM = (() => {
  let s = 0;
  for (let m = 0; m < 1440; m++) s += weekdayShape(m / 60);
  return s / 1440;
})();

/** out-of-range values a faulty sensor reports, per column */
const SPIKE_VALUES: Record<SensorColumn, readonly number[]> = {
  tank_level_m: [99, -5],
  inflow_m3h: [-50, 9999],
  outflow_m3h: [-50, 9999],
  pump_speed_rpm: [9999, -100],
  pump_power_kw: [-10, 999],
  suction_pressure_bar: [-1, 99],
  discharge_pressure_bar: [-1, 99],
};

const r1 = (v: number): number => Math.round(v * 10) / 10;
const r2 = (v: number): number => Math.round(v * 100) / 100;
const r3 = (v: number): number => Math.round(v * 1000) / 1000;

interface StationEvents {
  /** 1 = the row is missing */
  missing: Uint8Array;
  /** column index of a spike at that minute, -1 for none */
  spike: Int8Array;
  present: number;
}

function stationEvents(minutes: number, rng: Rng, longGaps: number): StationEvents {
  const missing = new Uint8Array(minutes);
  const spike = new Int8Array(minutes).fill(-1);
  const days = Math.ceil(minutes / 1440);
  const margin = Math.min(60, Math.floor(minutes / 4));
  const place = (len: number): void => {
    const lo = margin;
    const hi = minutes - margin - len;
    if (hi <= lo) return;
    const at = rng.int(lo, hi);
    missing.fill(1, at, at + len);
  };
  for (let d = 0; d < days; d++) {
    const u = rng.next();
    const len = rng.int(10, 29);
    if (u < GAPS_PER_DAY && minutes > 2 * margin + 40) {
      const lo = Math.max(margin, d * 1440);
      const hi = Math.min(minutes - margin - len, (d + 1) * 1440 - 1);
      if (hi > lo) {
        const at = rng.int(lo, hi);
        missing.fill(1, at, at + len);
      }
    }
  }
  for (let g = 0; g < longGaps; g++) place(rng.int(45, 240));
  for (let m = 0; m < minutes; m++) {
    if (rng.next() < SPIKE_PROBABILITY) spike[m] = rng.int(0, SENSOR_COLUMNS.length - 1);
  }
  let present = 0;
  for (let m = 0; m < minutes; m++) if (missing[m] === 0) present++;
  return { missing, spike, present };
}

export function generateReadings(options: GenerateOptions): Readings {
  const { days, stations, seed } = options;
  if (!(days > 0)) throw new Error(`days must be > 0 (got ${days})`);
  if (!Number.isInteger(stations) || stations < 1) throw new Error(`stations must be a positive integer (got ${stations})`);
  if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number (got ${seed})`);
  const startMs = Math.floor(options.start.getTime() / MINUTE_MS) * MINUTE_MS;
  if (!Number.isFinite(startMs)) throw new Error('start is not a valid date');
  const minutes = Math.round(days * 1440);
  const driftMs = options.driftFrom ? options.driftFrom.getTime() : Number.POSITIVE_INFINITY;
  const longGaps = options.longGaps ?? 0;

  const events: StationEvents[] = [];
  let rows = 0;
  for (let s = 0; s < stations; s++) {
    const ev = stationEvents(minutes, new Rng(seed, s * 8 + 1), longGaps);
    events.push(ev);
    rows += ev.present;
  }

  const out: Readings = {
    rows,
    start: new Date(startMs),
    end: new Date(startMs + minutes * MINUTE_MS),
    stationIds: [],
    stations: new Int32Array(rows),
    times: new Float64Array(rows),
    columns: Object.fromEntries(SENSOR_COLUMNS.map((c) => [c, new Float64Array(rows)])) as Record<SensorColumn, Float64Array>,
    pumpOn: new Uint8Array(rows),
    sensorFault: new Uint8Array(rows),
  };

  let offset = 0;
  for (let s = 0; s < stations; s++) {
    const model = stationModel(s);
    out.stationIds.push(model.id);
    offset = simulateStation(model, s, events[s], out, offset, { seed, startMs, minutes, driftMs });
  }
  return out;
}

function simulateStation(
  p: StationModel,
  s: number,
  ev: StationEvents,
  out: Readings,
  offset: number,
  o: { seed: number; startMs: number; minutes: number; driftMs: number },
): number {
  const proc = new Rng(o.seed, s * 8 + 2);
  const sensor = new Rng(o.seed, s * 8 + 3);
  const nulls = new Rng(o.seed, s * 8 + 4);
  const spikes = new Rng(o.seed, s * 8 + 5);
  const cols = SENSOR_COLUMNS.map((c) => out.columns[c]);
  const [level, inflow, outflow, speed, power, suction, discharge] = cols;
  const kc = p.kPump + p.cSys;
  const arSd = 0.06 * Math.sqrt(1 - 0.97 * 0.97);

  let L = (p.lowM + p.highM) / 2;
  let on = false;
  let r = 0; // speed ratio n / n_rated
  let ema = p.demandMean;
  let ar = 0;
  let jitter = 0;
  let day = Number.NaN;
  let dayFactor = 1;
  let row = offset;

  for (let m = -WARMUP_MINUTES; m < o.minutes; m++) {
    const t = o.startMs + m * MINUTE_MS;
    const dayIndex = Math.floor(t / DAY_MS);
    if (dayIndex !== day) {
      day = dayIndex;
      dayFactor = 1 + 0.05 * proc.normal();
    }
    const hour = (t - dayIndex * DAY_MS) / 3_600_000;
    const dow = (((dayIndex + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
    const weekend = dow === 0 || dow === 6;

    // Demand, with the optional shift.
    const since = t - o.driftMs;
    const dd = since > 0 ? Math.min(1, since / (3 * DAY_MS)) : 0;
    let shape = weekend ? weekendShape(hour) : weekdayShape(hour);
    if (dd > 0) shape = (1 - dd) * shape + dd * (weekend ? driftedWeekendShape(hour) : driftedWeekdayShape(hour));
    ar = 0.97 * ar + arSd * proc.normal();
    const white = 0.02 * proc.normal();
    const demand = Math.max(0, p.demandMean * (shape / SHAPE_NORM) * dayFactor * (1 + 0.25 * dd) * (1 + ar + white));
    ema += 0.05 * (demand - ema);

    // Hysteresis and the speed controller.
    jitter = 0.9 * jitter + 0.0015 * proc.normal();
    if (!on && L < p.lowM) {
      on = true;
      r = p.minRatio; // the drive reaches minimum speed within seconds
    } else if (on && L > p.highM) {
      on = false;
    }
    if (on) {
      const qt = 1.6 * ema;
      let rt = Math.sqrt((p.staticHeadM + L + kc * qt * qt) / p.h0) * (1 + jitter);
      rt = Math.min(1, Math.max(p.minRatio, rt));
      const step = Math.max(-p.rampRatio, Math.min(p.rampRatio, rt - r));
      r += step;
    } else {
      r = 0;
    }

    // Operating point: pump curve (affinity-scaled) meets the system curve.
    let q = 0;
    let head = 0;
    let kw = 0;
    let eta = 0;
    if (r > 0) {
      const excess = p.h0 * r * r - p.staticHeadM - L;
      q = excess > 0 ? Math.sqrt(excess / kc) : 0;
      head = q > 0 ? p.staticHeadM + L + p.cSys * q * q : p.h0 * r * r;
      const x = q / (r * p.qBep);
      const wear = since > 0 ? Math.max(0.7, 1 - (0.15 * since) / (14 * DAY_MS)) : 1;
      eta = Math.max(0.08, p.etaMax * (2 * x - x * x)) * wear;
      kw = q > 0 ? (HYDRAULIC_KW_PER_M3H_M * q * head) / eta : (0.35 * HYDRAULIC_KW_PER_M3H_M * p.qNom * p.h0 * r * r * r) / p.etaMax; // shut-off power
    }

    // The tank integrates inflow minus outflow over the minute.
    const volume = L * p.areaM2 + (q - demand) / 60;
    let served = demand;
    if (volume < 0) {
      served = q + L * p.areaM2 * 60; // the tank ran dry: only what is there flows out
      L = 0;
    } else {
      L = Math.min(p.heightM, volume / p.areaM2); // above the top it overflows
    }
    const levelBefore = L; // reading at the end of the minute

    const suctionTrue = p.suctionBar + 0.03 * Math.sin((2 * Math.PI * hour) / 24) - 0.08 * (q / p.qNom) * (q / p.qNom);

    // Draw the sensor noise for every minute so that gaps do not shift the streams.
    const nLevel = sensor.normal();
    const nIn1 = sensor.normal();
    const nIn2 = sensor.normal();
    const nOut1 = sensor.normal();
    const nOut2 = sensor.normal();
    const nSpeed = sensor.normal();
    const nPow1 = sensor.normal();
    const nPow2 = sensor.normal();
    const nSuc = sensor.normal();
    const nDis = sensor.normal();
    if (m < 0) continue;

    const nullDraws = SENSOR_COLUMNS.length;
    if (ev.missing[m] === 1) {
      for (let i = 0; i < nullDraws; i++) nulls.next();
      continue;
    }
    out.stations[row] = s;
    out.times[row] = t;
    level[row] = r3(levelBefore + 0.005 * nLevel);
    inflow[row] = q > 0 ? Math.max(0, r2(q * (1 + 0.005 * nIn1) + 0.5 * nIn2)) : 0;
    outflow[row] = Math.max(0, r2(served * (1 + 0.005 * nOut1) + 0.5 * nOut2));
    speed[row] = r > 0 ? r1(r * p.ratedRpm + 1.5 * nSpeed) : 0;
    power[row] = kw > 0 ? Math.max(0, r3(kw * (1 + 0.004 * nPow1) + 0.03 * nPow2)) : 0;
    suction[row] = r3(suctionTrue + 0.004 * nSuc);
    discharge[row] = r3(suctionTrue + head / M_PER_BAR + 0.004 * nDis);
    out.pumpOn[row] = on ? 1 : 0;

    for (let i = 0; i < nullDraws; i++) if (nulls.next() < NULL_PROBABILITY) cols[i][row] = Number.NaN;
    // A spike at this minute, and the fault flag from one minute before to two after it.
    const c = ev.spike[m];
    if (c >= 0) {
      const values = SPIKE_VALUES[SENSOR_COLUMNS[c]];
      cols[c][row] = values[spikes.int(0, values.length - 1)];
    }
    for (let k = m - 2; k <= m + 1; k++) {
      if (k >= 0 && k < o.minutes && ev.spike[k] >= 0) {
        out.sensorFault[row] = 1;
        break;
      }
    }
    row++;
  }
  return row;
}

/** Hydraulic over electrical power from the sensor columns (NaN when it cannot be computed). */
export function pumpEfficiency(inflowM3h: number, suctionBar: number, dischargeBar: number, powerKw: number): number {
  if (!(powerKw > 0) || !(inflowM3h > 0)) return Number.NaN;
  const head = (dischargeBar - suctionBar) * M_PER_BAR;
  return (HYDRAULIC_KW_PER_M3H_M * inflowM3h * head) / powerKw;
}
