/**
 * What the search learned, as pictures: inline SVG (no script, so the same
 * markup serves the HTML report and the dashboard) for decision importance
 * (a bar chart), partial dependence (one small plot per decision), the
 * effect of each operation on each cell edge (a heat map), and a table of
 * the single best model against the ensemble (accuracy, log loss, ECE).
 */
import type { CellEffects, DependencePoint } from '../analysis/importance.js';
import type { ReportInsights } from '../analysis/insights.js';
import type { SearchEnsemble, SplitComparison } from '../analysis/search-ensemble.js';
import { escapeHtml, formatNumber } from './format.js';

const FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif"';
const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;

/** Horizontal bars, largest first: each decision's share of the explained variance. */
export function importanceSvg(importance: Readonly<Record<string, number>>, max = 15): string {
  const rows = Object.entries(importance).slice(0, max);
  const label = 200;
  const width = 560;
  const barMax = width - label - 70;
  const h = 22;
  const top = Math.max(...rows.map(([, v]) => v), 1e-12);
  const bars = rows
    .map(([name, v], i) => {
      const y = 6 + i * h;
      const w = Math.max(1, (v / top) * barMax);
      return (
        `<text x="${label - 8}" y="${y + 14}" text-anchor="end" font-size="12">${escapeHtml(name)}</text>` +
        `<rect x="${label}" y="${y + 3}" width="${w.toFixed(1)}" height="${h - 7}" rx="3" fill="#7c3aed"><title>${escapeHtml(name)}: ${pct(v)}</title></rect>` +
        `<text x="${(label + w + 6).toFixed(1)}" y="${y + 14}" font-size="11.5" fill="#374151">${pct(v)}</text>`
      );
    })
    .join('');
  return `<svg class="importance" role="img" aria-label="decision importance" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${rows.length * h + 12}" viewBox="0 0 ${width} ${rows.length * h + 12}" ${FONT}>${bars}</svg>`;
}

/** One decision's partial dependence: a line over a number's range, dots (and a bar from the mean) per choice. */
export function dependenceSvg(name: string, points: readonly DependencePoint[], mean: number, metric: string): string {
  const W = 250;
  const H = 150;
  const L = 46;
  const B = 34;
  const T = 22;
  const R = 10;
  const ys = [...points.map((p) => p.mean), mean];
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (hi - lo < 1e-12) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = 0.08 * (hi - lo);
  lo -= pad;
  hi += pad;
  const y = (v: number): number => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const numeric = points.some((p) => typeof p.value === 'number') && points.every((p) => p.value === null || typeof p.value === 'number') && points.filter((p) => p.value !== null).length > 3;
  const inner = W - L - R;
  let body = '';
  if (numeric) {
    const vals = points.filter((p) => p.value !== null) as { value: number; mean: number }[];
    const x0 = vals[0]!.value;
    const x1 = vals[vals.length - 1]!.value;
    const log = x0 > 0 && x1 / x0 > 20;
    const fx = (v: number): number => L + inner * (log ? Math.log(v / x0) / Math.log(x1 / x0) : (v - x0) / (x1 - x0 || 1));
    body += `<polyline fill="none" stroke="#2563eb" stroke-width="2" points="${vals.map((p) => `${fx(p.value).toFixed(1)},${y(p.mean).toFixed(1)}`).join(' ')}"/>`;
    body += `<text x="${L}" y="${H - B + 14}" font-size="10.5" fill="#6b7280">${escapeHtml(formatNumber(x0))}</text><text x="${W - R}" y="${H - B + 14}" text-anchor="end" font-size="10.5" fill="#6b7280">${escapeHtml(formatNumber(x1))}${log ? ' (log)' : ''}</text>`;
  } else {
    const n = points.length;
    const step = inner / n;
    body += points
      .map((p, i) => {
        const cx = L + step * (i + 0.5);
        const label = p.value === null ? 'inactive' : String(p.value);
        return (
          `<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${y(mean).toFixed(1)}" y2="${y(p.mean).toFixed(1)}" stroke="${p.mean >= mean ? '#059669' : '#dc2626'}" stroke-width="6"/>` +
          `<circle cx="${cx.toFixed(1)}" cy="${y(p.mean).toFixed(1)}" r="3.5" fill="#111827"><title>${escapeHtml(label)}: ${escapeHtml(formatNumber(p.mean))}</title></circle>` +
          `<text x="${cx.toFixed(1)}" y="${H - B + 14}" text-anchor="middle" font-size="10" fill="#374151">${escapeHtml(label.length > 11 ? `${label.slice(0, 10)}…` : label)}</text>`
        );
      })
      .join('');
  }
  return (
    `<svg class="dependence" role="img" aria-label="partial dependence on ${escapeHtml(name)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>` +
    `<text x="${L}" y="14" font-size="12" font-weight="600">${escapeHtml(name)}</text>` +
    `<line x1="${L}" x2="${W - R}" y1="${y(mean).toFixed(1)}" y2="${y(mean).toFixed(1)}" stroke="#9ca3af" stroke-dasharray="3 3"/>` +
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#d1d5db"/>` +
    `<text x="${L - 4}" y="${(y(hi - pad) + 4).toFixed(1)}" text-anchor="end" font-size="10" fill="#6b7280">${escapeHtml(formatNumber(hi - pad))}</text>` +
    `<text x="${L - 4}" y="${(y(lo + pad) + 4).toFixed(1)}" text-anchor="end" font-size="10" fill="#6b7280">${escapeHtml(formatNumber(lo + pad))}</text>` +
    body +
    `<text x="${W / 2}" y="${H - 4}" text-anchor="middle" font-size="10" fill="#6b7280">${escapeHtml(metric)}, all else averaged</text>` +
    `</svg>`
  );
}

/** Edges × operations, coloured by how much the operation on that edge moves the objective (green helps when maximising). */
export function cellEffectsSvg(e: CellEffects, goal: 'max' | 'min'): string {
  const cw = 96;
  const ch = 26;
  const L = 56;
  const T = 26;
  const finite = e.effect.flat().filter(Number.isFinite);
  const span = Math.max(1e-12, ...finite.map(Math.abs));
  const colour = (v: number): string => {
    if (!Number.isFinite(v)) return '#f3f4f6';
    const good = goal === 'max' ? v > 0 : v < 0;
    const a = Math.min(1, Math.abs(v) / span);
    return good ? `rgba(5,150,105,${(0.12 + 0.78 * a).toFixed(2)})` : `rgba(220,38,38,${(0.12 + 0.78 * a).toFixed(2)})`;
  };
  const head = e.ops.map((op, j) => `<text x="${L + cw * (j + 0.5)}" y="16" text-anchor="middle" font-size="11">${escapeHtml(op)}</text>`).join('');
  const cells = e.edges
    .map((edge, i) =>
      `<text x="${L - 8}" y="${T + ch * i + 17}" text-anchor="end" font-size="11.5" font-family="ui-monospace,monospace">${escapeHtml(edge)}</text>` +
      e.ops
        .map((op, j) => {
          const v = e.effect[i]?.[j] ?? NaN;
          return (
            `<rect x="${L + cw * j + 1}" y="${T + ch * i + 1}" width="${cw - 2}" height="${ch - 2}" rx="3" fill="${colour(v)}"><title>${escapeHtml(`${op} on ${edge}: ${Number.isFinite(v) ? (v >= 0 ? '+' : '') + formatNumber(v) : 'not seen'}`)}</title></rect>` +
            `<text x="${L + cw * (j + 0.5)}" y="${T + ch * i + 17}" text-anchor="middle" font-size="11">${Number.isFinite(v) ? escapeHtml((v >= 0 ? '+' : '') + formatNumber(v)) : '–'}</text>`
          );
        })
        .join(''),
    )
    .join('');
  const W = L + cw * e.ops.length + 4;
  const H = T + ch * e.edges.length + 4;
  return `<svg class="cell-effects" role="img" aria-label="operation effect per edge" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>${head}${cells}</svg>`;
}

function comparisonRows(split: string, c: SplitComparison): string {
  const row = (who: string, q: SplitComparison['single']): string =>
    `<tr><td>${escapeHtml(split)}</td><td>${who}</td><td class="num">${pct(q.accuracy)}</td><td class="num">${pct(1 - q.accuracy)}</td><td class="num">${escapeHtml(formatNumber(q.logLoss))}</td><td class="num">${escapeHtml(formatNumber(q.ece))}</td></tr>`;
  return row('best single model', c.single) + row('<b>ensemble</b>', c.ensemble);
}

/** Single model against ensemble, and the members with their weights. */
export function ensembleHtml(e: SearchEnsemble): string {
  const short = (id: string): string => escapeHtml(id.split('/').pop()?.replace(/^.*-(t\d+)$/, '$1') ?? id);
  const ratio = e.test ? (1 - e.test.ensemble.accuracy) / Math.max(1e-12, 1 - e.test.single.accuracy) : undefined;
  return (
    `<p>Greedy ensemble selection with replacement (Caruana et al. 2004) over the stored validation predictions of ${e.candidates} models, ${e.rounds} rounds on ${escapeHtml(e.metric.replace('_', ' '))}; ` +
    `the single model is the best-ranked one (#${e.single.rank}, ${short(e.single.trialId)}).${ratio !== undefined ? ` Test error of the ensemble: <b>${ratio.toFixed(2)}×</b> the single model's.` : ''}</p>` +
    `<div class="table-wrap"><table><thead><tr><th>split</th><th>model</th><th class="num">accuracy</th><th class="num">error</th><th class="num">log loss</th><th class="num">ECE</th></tr></thead><tbody>` +
    comparisonRows('validation', e.validation) +
    (e.test ? comparisonRows('test', e.test) : '') +
    `</tbody></table></div>` +
    `<p>Members: ${e.members.map((m) => `${short(m.trialId)} (#${m.rank}) ${(100 * m.weight).toFixed(0)} %`).join(', ')}.</p>`
  );
}

/** The report's sections on what the search learned; empty when there is nothing to say. */
export function insightsSections(ins: ReportInsights): string {
  const out: string[] = [];
  const imp = ins.importance;
  if (imp) {
    const deps = Object.keys(imp.importance)
      .slice(0, 8)
      .map((name) => dependenceSvg(name, imp.dependence[name] ?? [], imp.mean, imp.metric))
      .join('');
    out.push(
      `<section class="insights"><h2>What mattered</h2><p>Share of the variance of ${escapeHtml(imp.metric)} each decision explains on its own (functional ANOVA over a random forest fitted to ${imp.trials} trials at fidelity ${escapeHtml(formatNumber(imp.fidelity))}; single decisions explain ${pct(Math.min(1, imp.mainEffects))} of it, interactions the rest).</p>` +
        importanceSvg(imp.importance) +
        `<h3>Partial dependence</h3><div class="dependence-grid">${deps}</div>` +
        (imp.cellEffects ? `<h3>Operation effect per edge</h3>${cellEffectsSvg(imp.cellEffects, imp.goal)}` : '') +
        `</section>`,
    );
  }
  if (ins.ensemble) out.push(`<section class="ensemble"><h2>Ensemble</h2>${ensembleHtml(ins.ensemble)}</section>`);
  return out.join('\n');
}
