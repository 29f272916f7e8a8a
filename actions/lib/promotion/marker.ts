/**
 * The hidden markers in promotion pull requests and their comments (one module per protocol):
 *
 *   <!-- mlops:promotion model=tank-level-forecast run=4f2c9e1a version=8 metric=rmse value=0.0655 -->
 *   <!-- mlops:kept model=tank-level-forecast run=77aa01 -->
 *
 * The first identifies the pull request of a model (so re-runs update it instead of opening
 * another) and carries its candidate, so a later challenger can be compared with it. The second
 * marks the comment that says a challenger was not better, so re-runs do not repeat it.
 */

export interface Candidate {
  run: string;
  version: number;
  /** the primary metric's name, e.g. rmse */
  metric: string;
  value: number;
  /** default true (rmse, mae) */
  lowerIsBetter?: boolean;
}

export interface PromotionMarker extends Partial<Candidate> {
  model: string;
}

const PROMOTION = /<!--\s*mlops:promotion\s+([^]*?)\s*-->/;
const KEPT = /<!--\s*mlops:kept\s+([^]*?)\s*-->/g;

export function promotionMarker(model: string, candidate: Candidate): string {
  const fields: Record<string, string> = {
    model,
    run: candidate.run,
    version: String(candidate.version),
    metric: candidate.metric,
    value: String(candidate.value),
  };
  if (candidate.lowerIsBetter === false) fields.higher_is_better = 'true';
  return `<!-- mlops:promotion ${Object.entries(fields).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join(' ')} -->`;
}

export function parsePromotionMarker(body: string | null | undefined): PromotionMarker | null {
  const m = PROMOTION.exec(body ?? '');
  if (!m) return null;
  const f = fieldsOf(m[1]);
  if (!f.model) return null;
  const out: PromotionMarker = { model: f.model };
  if (f.run) out.run = f.run;
  if (f.version && Number.isFinite(Number(f.version))) out.version = Number(f.version);
  if (f.metric) out.metric = f.metric;
  if (f.value !== undefined && f.value !== '' && Number.isFinite(Number(f.value))) out.value = Number(f.value);
  out.lowerIsBetter = f.higher_is_better !== 'true';
  return out;
}

/** The body with exactly one promotion marker for this candidate, first line. */
export function withPromotionMarker(body: string, model: string, candidate: Candidate): string {
  const marker = promotionMarker(model, candidate);
  const rest = body.replace(PROMOTION, '').replace(/^\s*\n/, '');
  return `${marker}\n${rest}`;
}

export function keptMarker(model: string, run: string): string {
  return `<!-- mlops:kept model=${encodeURIComponent(model)} run=${encodeURIComponent(run)} -->`;
}

export function hasKeptMarker(body: string | null | undefined, model: string, run: string): boolean {
  for (const m of (body ?? '').matchAll(KEPT)) {
    const f = fieldsOf(m[1]);
    if (f.model === model && f.run === run) return true;
  }
  return false;
}

/** The candidate a marker describes, when it has all of it. */
export function candidateOf(marker: PromotionMarker | null): Candidate | null {
  if (!marker || marker.run === undefined || marker.version === undefined || marker.metric === undefined || marker.value === undefined) return null;
  return { run: marker.run, version: marker.version, metric: marker.metric, value: marker.value, lowerIsBetter: marker.lowerIsBetter ?? true };
}

function fieldsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/\s+/)) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    try {
      out[part.slice(0, i)] = decodeURIComponent(part.slice(i + 1));
    } catch {
      out[part.slice(0, i)] = part.slice(i + 1);
    }
  }
  return out;
}
