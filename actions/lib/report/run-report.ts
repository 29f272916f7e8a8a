import type { RetrainResult } from '../retrain/result.ts';
import { fmtInt, fmtTime } from './format.ts';
import { gateTable, labelsLine, metricTable, qualitySummary, qualityTable, referenceSection } from './markdown.ts';
import type { Decision } from '../gates/gates.ts';

const DECISION_LINE: Record<Decision, string> = {
  promote: '✅ **promote**: the challenger is ready for a promotion pull request',
  reject: '❌ **reject**: the champion stays in production',
  skip: '⏭️ **skip**: no model was trained',
};

/** report.md of a run: the human-readable form of report.json, also the Actions job summary. */
export function renderRunReport(r: RetrainResult): string {
  const out: string[] = [];
  out.push(`## ${r.pipeline}: retrain ${r.run_id}`);
  out.push('');
  if (r.status === 'failed') {
    out.push(`💥 **failed**: ${r.error ?? 'unknown error'}`);
  } else if (r.decision) {
    out.push(DECISION_LINE[r.decision] + (r.forced ? ' (forced)' : ''));
  }
  out.push('');
  out.push(`As of ${fmtTime(r.as_of)} (${r.trigger}${r.trigger_reason ? `: ${r.trigger_reason}` : ''}).`);
  if (r.reasons.length) {
    out.push('');
    for (const reason of r.reasons) out.push(`- ${reason}`);
  }
  if (r.scores.challenger || r.scores.champion) {
    out.push('', '### Holdout metrics', '', metricTable(r.scores, r.primary_metric, r.holdout?.rows ?? null));
  }
  if (r.reference) out.push('', '### Reference set (double evaluation)', '', referenceSection(r.reference, r.primary_metric));
  if (r.gates.length) out.push('', '### Gates', '', gateTable(r.gates));
  if (r.data) {
    out.push('', '### Data');
    out.push('', `- Window: ${fmtTime(r.data.start)} -> ${fmtTime(r.data.end)}, ${fmtInt(r.data.rows)} rows, ${r.data.entities.join(', ') || 'no entities'}`);
    out.push(`- Fingerprint: \`${r.data.fingerprint}\``);
    if (r.labels) out.push(`- Labels: ${labelsLine(r.labels, r.data.rows)}`);
    if (r.train) out.push(`- Training rows: ${fmtInt(r.train.rows)} (${fmtTime(r.train.start)} -> ${fmtTime(r.train.end)})`);
    if (r.holdout) out.push(`- Holdout rows: ${fmtInt(r.holdout.rows)} (${fmtTime(r.holdout.start)} -> ${fmtTime(r.holdout.end)})`);
    if (r.features) {
      const dropped = Object.entries(r.features.dropped)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${fmtInt(n)} ${k.replace(/_/g, ' ')}`);
      out.push(`- Features: ${r.features.names.length}${dropped.length ? `; rows dropped: ${dropped.join(', ')}` : ''}`);
      for (const w of r.features.warnings) out.push(`- ⚠️ ${w}`);
    }
  }
  if (r.quality) {
    out.push('', `### Data quality: ${r.quality.passed ? 'passed' : 'failed'}`, '', qualitySummary(r.quality), '', qualityTable(r.quality));
  }
  out.push('', '### Lineage', '');
  out.push(
    `- Run \`${r.run_id}\`, code \`${r.lineage.code_sha?.slice(0, 7) ?? 'unknown'}\`${r.lineage.workflow_run_url ? `, [workflow run](${r.lineage.workflow_run_url})` : ''}`,
  );
  out.push(`- Trainer: ${r.trainer.algorithm} ${JSON.stringify(r.trainer.params)}`);
  if (r.training_ms !== null) out.push(`- Training time: ${(r.training_ms / 1000).toFixed(1)} s`);
  if (r.artifact) out.push(`- Artifact: \`${r.artifact.path}\`, sha256 \`${r.artifact.sha256}\`, ${fmtInt(r.artifact.bytes)} bytes`);
  if (r.champion) out.push(`- Champion: v${r.champion.version} (run \`${r.champion.run_id}\`, promoted ${fmtTime(r.champion.promoted_at)})`);
  const timings = Object.entries(r.stage_timings).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(2)} s`);
  if (timings.length) out.push(`- Stages: ${timings.join(', ')}`);
  return out.join('\n') + '\n';
}
