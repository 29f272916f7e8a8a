/**
 * A deterministic simulator of credit applications for the classification demo: applicants with
 * income, debt ratio, age, credit history length and a region, and whether they defaulted, an
 * outcome that becomes known 30 days (and up to 36 hours) after the application.
 *
 * The default probability is a logistic function of the applicant (debt ratio and a young, thin
 * credit file raise it; income and age lower it; regions differ) with an interaction the linear
 * model cannot see, so gradient boosting has something to find. About 11% default.
 *
 * Optional drift from `driftFrom`, phased in over 14 days: the applicant population shifts (lower
 * incomes, higher debt ratios, more applicants from the east) and debt weighs more heavily on
 * default (a downturn), so the champion's inputs drift and its ranking slips.
 *
 * Each day is generated from its own random stream (seed, day number), so seeding a longer period
 * later gives the same applications for the days already seeded.
 */
import { analyze, quoteIdent, type Db, type Queryable } from '../db/index.ts';
import { Rng } from './prng.ts';
import { DAY_MS, HOUR_MS } from '../util/duration.ts';

export const CREDIT_REGIONS = ['north', 'south', 'east', 'west', 'central'] as const;
export const LABEL_DELAY_DAYS = 30;

const REGION_SHARE = [0.26, 0.22, 0.14, 0.2, 0.18];
const DRIFT_REGION_SHARE = [0.2, 0.18, 0.32, 0.16, 0.14];
const REGION_INCOME = [1.05, 0.95, 0.85, 1.1, 1.0];
const REGION_RISK = [-0.1, 0.1, 0.45, -0.2, 0];

export interface CreditOptions {
  /** whole days of applications from `start` */
  days: number;
  /** mean applications per day */
  perDay: number;
  seed: number;
  /** floored to the day (UTC) */
  start: Date;
  /** the population drift begins here */
  driftFrom?: Date;
}

/** Applications and their outcomes, in columns, ordered by application time. */
export interface CreditData {
  rows: number;
  start: Date;
  end: Date;
  ids: string[];
  appliedAt: Float64Array;
  /** index into CREDIT_REGIONS; -1 = not recorded */
  region: Int8Array;
  /** monthly income; NaN = not recorded */
  income: Float64Array;
  /** monthly debt payments / income */
  debtRatio: Float64Array;
  age: Float64Array;
  /** months of credit history; NaN = not recorded */
  historyMonths: Float64Array;
  defaulted: Uint8Array;
  /** when the outcome became known */
  knownAt: Float64Array;
}

export function generateCredit(o: CreditOptions): CreditData {
  const start = Math.floor(o.start.getTime() / DAY_MS) * DAY_MS;
  const driftFrom = o.driftFrom ? o.driftFrom.getTime() : Number.POSITIVE_INFINITY;
  const cols = {
    ids: [] as string[],
    appliedAt: [] as number[],
    region: [] as number[],
    income: [] as number[],
    debtRatio: [] as number[],
    age: [] as number[],
    historyMonths: [] as number[],
    defaulted: [] as number[],
    knownAt: [] as number[],
  };
  for (let d = 0; d < o.days; d++) {
    const dayStart = start + d * DAY_MS;
    const day = dayStart / DAY_MS;
    const rng = new Rng(o.seed, day);
    // Weekends see fewer applications.
    const weekday = (((day + 4) % 7) + 7) % 7;
    const rate = o.perDay * (weekday === 0 || weekday === 6 ? 0.6 : 1.16);
    const n = Math.max(0, Math.round(rate + Math.sqrt(rate) * rng.normal()));
    const times = Array.from({ length: n }, () => dayStart + Math.floor(applicationHour(rng) * HOUR_MS));
    times.sort((a, b) => a - b);
    const date = new Date(dayStart).toISOString().slice(0, 10).replaceAll('-', '');
    times.forEach((t, i) => {
      const drift = Math.min(1, Math.max(0, (t - driftFrom) / (14 * DAY_MS)));
      const shares = REGION_SHARE.map((s, k) => s + drift * (DRIFT_REGION_SHARE[k] - s));
      let u = rng.next();
      let region = 0;
      while (region < shares.length - 1 && u > shares[region]) u -= shares[region++];
      const age = Math.round(Math.min(78, Math.max(21, 41 + 12 * rng.normal())));
      const income = Math.round(3400 * REGION_INCOME[region] * (1 - 0.15 * drift) * Math.exp(0.45 * rng.normal()) * (0.8 + 0.006 * age));
      const debtRatio = Math.round(1000 * Math.min(1.6, Math.max(0, 0.3 + 0.06 * drift + 0.14 * rng.normal() + 0.0001 * (4000 - income) * 0.2))) / 1000;
      const history = Math.round(Math.max(0, Math.min((age - 18) * 12, (age - 20) * 12 * rng.uniform(0.2, 1))));
      // The outcome: logistic in the applicant, with an interaction (young and indebted) and a downturn.
      const logit =
        -2.7 +
        (5 + 2 * drift) * (debtRatio - 0.3) -
        1.1 * Math.log(income / 3400) -
        0.03 * (age - 41) -
        0.006 * (history - 120) +
        REGION_RISK[region] * 1.5 +
        (age < 30 && debtRatio > 0.42 ? 1.4 : 0) +
        0.25 * rng.normal();
      const defaulted = rng.next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
      cols.ids.push(`A${date}-${String(i + 1).padStart(5, '0')}`);
      cols.appliedAt.push(t);
      // A few values are never recorded.
      cols.region.push(rng.next() < 0.01 ? -1 : region);
      cols.income.push(rng.next() < 0.008 ? Number.NaN : income);
      cols.debtRatio.push(debtRatio);
      cols.age.push(age);
      cols.historyMonths.push(rng.next() < 0.015 ? Number.NaN : history);
      cols.defaulted.push(defaulted);
      cols.knownAt.push(t + LABEL_DELAY_DAYS * DAY_MS + Math.floor(rng.uniform(0, 36)) * HOUR_MS);
    });
  }
  return {
    rows: cols.ids.length,
    start: new Date(start),
    end: new Date(start + o.days * DAY_MS),
    ids: cols.ids,
    appliedAt: Float64Array.from(cols.appliedAt),
    region: Int8Array.from(cols.region),
    income: Float64Array.from(cols.income),
    debtRatio: Float64Array.from(cols.debtRatio),
    age: Float64Array.from(cols.age),
    historyMonths: Float64Array.from(cols.historyMonths),
    defaulted: Uint8Array.from(cols.defaulted),
    knownAt: Float64Array.from(cols.knownAt),
  };
}

/** Hour of the day of an application: mostly office hours, some in the evening, few at night. */
function applicationHour(rng: Rng): number {
  const u = rng.next();
  if (u < 0.72) return rng.uniform(8, 18);
  if (u < 0.95) return rng.uniform(18, 23);
  return rng.uniform(0, 8);
}

/** The demo's applications table (the source of the credit-default pipeline) and its outcomes (the labels). */
export const APPLICATIONS_TABLE = 'public.loan_applications';
export const OUTCOMES_TABLE = 'public.loan_outcomes';
const APPLICATION_COLUMNS = ['application_id', 'applied_at', 'region', 'income', 'debt_ratio', 'age', 'history_months'] as const;
const OUTCOME_COLUMNS = ['application_id', 'defaulted', 'known_at'] as const;

/**
 * Creates the demo tables if they do not exist. An outcome may be recorded more than once (a
 * correction arrives later): its key is (application_id, known_at), and the newest known at a
 * run's as-of counts.
 */
export async function ensureCreditTables(db: Queryable): Promise<void> {
  await db.exec(`CREATE TABLE IF NOT EXISTS ${quoteIdent(APPLICATIONS_TABLE)} (
  application_id text PRIMARY KEY,
  applied_at timestamptz NOT NULL,
  region text,
  income double precision,
  debt_ratio double precision,
  age double precision,
  history_months double precision
);
CREATE INDEX IF NOT EXISTS loan_applications_applied_at ON ${quoteIdent(APPLICATIONS_TABLE)} (applied_at);
CREATE TABLE IF NOT EXISTS ${quoteIdent(OUTCOMES_TABLE)} (
  application_id text NOT NULL,
  defaulted smallint NOT NULL,
  known_at timestamptz NOT NULL,
  PRIMARY KEY (application_id, known_at)
);`);
}

export interface CreditSeedOptions extends CreditOptions {
  /** outcomes known before this time are written (default: the end of the seeded days) */
  labelsUntil?: Date;
}

export interface CreditSeedResult {
  applications: number;
  /** outcomes written: those known before labelsUntil */
  outcomes: number;
  defaults: number;
  start: Date;
  end: Date;
  labelsUntil: Date;
}

const csvField = (v: number): string => (v === v ? String(v) : '');

/**
 * Generates applications and loads them with the outcomes known by `labelsUntil`, in ONE
 * transaction: the seeded days' applications and their outcomes are replaced (so re-seeding is
 * idempotent, and seeding a longer period or a later labelsUntil adds what became known).
 */
export async function seedCredit(db: Db, options: CreditSeedOptions): Promise<CreditSeedResult> {
  const data = generateCredit(options);
  const labelsUntil = (options.labelsUntil ?? data.end).getTime();
  return db.transaction(async (tx) => {
    await ensureCreditTables(tx);
    const window = [data.start.toISOString(), data.end.toISOString()];
    await tx.query(
      `DELETE FROM ${quoteIdent(OUTCOMES_TABLE)} WHERE application_id IN
         (SELECT application_id FROM ${quoteIdent(APPLICATIONS_TABLE)} WHERE applied_at >= $1 AND applied_at < $2)`,
      window,
    );
    await tx.query(`DELETE FROM ${quoteIdent(APPLICATIONS_TABLE)} WHERE applied_at >= $1 AND applied_at < $2`, window);
    const applications =
      data.rows === 0
        ? 0
        : await tx.copyInCsv(
            APPLICATIONS_TABLE,
            APPLICATION_COLUMNS,
            csvChunks(
              data.rows,
              (i) =>
                `${data.ids[i]},${new Date(data.appliedAt[i]).toISOString()},${data.region[i] < 0 ? '' : CREDIT_REGIONS[data.region[i]]},` +
                `${csvField(data.income[i])},${data.debtRatio[i]},${data.age[i]},${csvField(data.historyMonths[i])}\n`,
            ),
          );
    let outcomes = 0;
    let defaults = 0;
    const known: number[] = [];
    for (let i = 0; i < data.rows; i++) {
      if (data.knownAt[i] < labelsUntil) {
        known.push(i);
        defaults += data.defaulted[i];
      }
    }
    if (known.length) {
      outcomes = await tx.copyInCsv(
        OUTCOMES_TABLE,
        OUTCOME_COLUMNS,
        csvChunks(known.length, (k) => outcomeLine(data, known[k])),
      );
    }
    await analyze(tx, APPLICATIONS_TABLE);
    await analyze(tx, OUTCOMES_TABLE);
    return { applications, outcomes, defaults, start: data.start, end: data.end, labelsUntil: new Date(labelsUntil) };
  });
}

/** Outcome i as a CSV line of the labels table (application_id,defaulted,known_at). */
function outcomeLine(data: CreditData, i: number): string {
  return `${data.ids[i]},${data.defaulted[i]},${new Date(data.knownAt[i]).toISOString()}\n`;
}

/**
 * The outcomes that became known in [from, to) as a labels CSV with its header (the file `mlops
 * labels import` loads): the late-arriving labels of applications seeded without them.
 */
export function creditOutcomesCsv(data: CreditData, from: Date, to: Date): { csv: string; rows: number } {
  let csv = `${OUTCOME_COLUMNS.join(',')}\n`;
  let rows = 0;
  for (let i = 0; i < data.rows; i++) {
    if (data.knownAt[i] >= from.getTime() && data.knownAt[i] < to.getTime()) {
      csv += outcomeLine(data, i);
      rows++;
    }
  }
  return { csv, rows };
}

async function* csvChunks(rows: number, line: (i: number) => string, chunkRows = 10_000): AsyncGenerator<string> {
  for (let from = 0; from < rows; from += chunkRows) {
    let chunk = '';
    for (let i = from; i < Math.min(rows, from + chunkRows); i++) chunk += line(i);
    yield chunk;
  }
}
