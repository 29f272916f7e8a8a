/**
 * The hidden markers in promotion pull requests and their comments (one module per protocol):
 *
 *   <!-- mlops:promotion model=tank-level-forecast run=4f2c9e1a version=8 metric=rmse value=0.0655 -->
 *   <!-- mlops:kept model=tank-level-forecast run=77aa01 -->
 *
 * The first identifies the pull request of a model (so re-runs update it instead of opening
 * another) and carries its candidate, so a later challenger can be compared with it, and what an
 * approval of the pull request approves (run and artifact sha256: the deploy compares them with
 * what was merged). The second marks the comment that says a challenger was not better, so re-runs
 * do not repeat it.
 *
 * The promotion commit on the branch carries the same two facts as git trailers, for the deploy
 * to check from git alone when it has no token:
 *
 *   Promote tank-level-forecast v8
 *
 *   MLOps-Run: 4f2c9e1a
 *   MLOps-Artifact-Sha256: 9c1d...
 */

export interface Candidate {
  run: string;
  version: number;
  /** the primary metric's name, e.g. rmse */
  metric: string;
  value: number;
  /** default true (rmse, mae) */
  lowerIsBetter?: boolean;
  /** the artifact's sha256: what approving the pull request approves, with the run */
  sha256?: string;
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
  if (candidate.sha256) fields.sha256 = candidate.sha256;
  return `<!-- mlops:promotion ${Object.entries(fields)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join(' ')} -->`;
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
  if (f.sha256 && /^[0-9a-f]{64}$/.test(f.sha256)) out.sha256 = f.sha256;
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
  return {
    run: marker.run,
    version: marker.version,
    metric: marker.metric,
    value: marker.value,
    lowerIsBetter: marker.lowerIsBetter ?? true,
    ...(marker.sha256 ? { sha256: marker.sha256 } : {}),
  };
}

export interface PromotionTrailers {
  run: string;
  sha256: string;
}

const RUN_TRAILER = 'MLOps-Run';
const SHA_TRAILER = 'MLOps-Artifact-Sha256';

/** The promotion commit's message: subject, blank line, the trailers of what it promotes. */
export function promotionCommitMessage(model: string, version: number, t: PromotionTrailers): string {
  return `Promote ${model} v${version}\n\n${RUN_TRAILER}: ${t.run}\n${SHA_TRAILER}: ${t.sha256}`;
}

/** The trailers of a promotion commit's message (its body), or null when it has not both. */
export function parsePromotionTrailers(message: string): PromotionTrailers | null {
  const run = new RegExp(`^${RUN_TRAILER}:[ \\t]*(\\S+)[ \\t]*$`, 'mi').exec(message)?.[1];
  const sha256 = new RegExp(`^${SHA_TRAILER}:[ \\t]*([0-9a-f]{64})[ \\t]*$`, 'mi').exec(message)?.[1];
  return run && sha256 ? { run, sha256 } : null;
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
