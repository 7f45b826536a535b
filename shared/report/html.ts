/**
 * The final report as one self-contained HTML file: tables are rendered
 * here as plain HTML (readable without JavaScript), charts are drawn in the
 * browser by Chart.js, whose code is inlined together with the data so the
 * file opens offline and can be mailed or stored in S3 as it is.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Experiment, Trial } from '../experiment/model.js';
import type { Space } from '../space/space.js';
import type { ReportInsights } from '../analysis/insights.js';
import { networkSvg } from './architecture.js';
import { escapeHtml, formatDuration, formatNumber, jsonForScript } from './format.js';
import { insightsSections } from './insights-html.js';
import { buildReport, specSpace, type ExperimentReport, type LeaderboardEntry, type ReportOptions } from './report.js';

let chartJsCache: string | undefined;

/** The Chart.js UMD bundle from node_modules, read once. */
export function chartJsSource(): string {
  if (chartJsCache === undefined) {
    const main = createRequire(import.meta.url).resolve('chart.js');
    chartJsCache = readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
  }
  return chartJsCache;
}

export interface HtmlReportOptions extends ReportOptions {
  /** Chart.js UMD source to inline (default: the installed package's `chart.umd.min.js`). */
  readonly chartJs?: string;
  /** What the search learned (decision importance, the ensemble), drawn after the leaderboard. */
  readonly insights?: ReportInsights;
}

/** The learning-curve metric: the first objective when curves record it, else a validation accuracy, else any. */
function curveMetric(report: ExperimentReport, trials: readonly Trial[]): string | undefined {
  const keys = new Set<string>();
  for (const t of trials) for (const e of t.curve ?? []) for (const k of Object.keys(e.metrics)) keys.add(k);
  const first = report.objectives[0]?.metric;
  if (first && keys.has(first)) return first;
  return [...keys].find((k) => /^val.*acc/.test(k)) ?? [...keys].find((k) => k.startsWith('val')) ?? [...keys][0];
}

function metricCell(v: number | undefined): string {
  return `<td class="num">${escapeHtml(formatNumber(v))}</td>`;
}

/** The first objective of an architecture measured more than once: this trial's value, then mean ± sd (n) of all its measurements. */
function measuredCell(v: number | undefined, m: { readonly n: number; readonly mean: number; readonly sd: number }): string {
  const title = 'measured more than once (a noisy objective): mean ± sd over n measurements; ranked by the noise-aware estimate';
  return `<td class="num">${escapeHtml(formatNumber(v))}<div class="hash" title="${title}">${escapeHtml(`${formatNumber(m.mean)} ± ${formatNumber(m.sd)} (n=${m.n})`)}</div></td>`;
}

/** Rows shown in the HTML leaderboard; the JSON report keeps them all. */
const MAX_ROWS = 25;

function leaderboardTable(report: ExperimentReport): string {
  const entries = report.leaderboard.slice(0, MAX_ROWS);
  const more = report.leaderboard.length - entries.length;
  if (entries.length === 0) return '<p class="empty">No completed feasible trial yet.</p>';
  const objectiveMetrics = report.objectives.map((o) => o.metric);
  const valKeys = [...new Set(entries.flatMap((e) => Object.keys(e.validation)))].filter((k) => !objectiveMetrics.includes(k)).slice(0, 3);
  const testKeys = [...new Set(entries.flatMap((e) => Object.keys(e.test)))].slice(0, 3);
  const costKeys = (['params', 'latency_ms'] as const).filter((k) => !objectiveMetrics.includes(k) && entries.some((e) => e[k] !== undefined));
  const head = [
    '<th>#</th><th>trial</th><th>architecture</th>',
    ...report.objectives.map((o) => `<th class="num">${escapeHtml(o.metric)} <span class="goal">${o.goal === 'max' ? '↑' : '↓'}</span></th>`),
    ...valKeys.map((k) => `<th class="num">${escapeHtml(k)}</th>`),
    ...testKeys.map((k) => `<th class="num">${escapeHtml(k)}</th>`),
    ...costKeys.map((k) => `<th class="num">${escapeHtml(k)}</th>`),
    '<th class="num">fidelity</th>',
  ].join('');
  const front = new Set(report.pareto.trialIds);
  const listed = new Set(report.warmStart?.listedTrialIds ?? []);
  const columns = 4 + report.objectives.length + valKeys.length + testKeys.length + costKeys.length;
  const rows = entries.map((e, i) => {
    const arch = e.summary ?? JSON.stringify(e.arch.values);
    // Partial results rank below every full-fidelity one, under a line that says so.
    const below = !e.fullFidelity && (i === 0 || entries[i - 1]?.fullFidelity) ? `<tr class="partial-head"><td colspan="${columns}">Partial: trained to a lower fidelity only, not tested</td></tr>` : '';
    return (
      below +
      `<tr${e.rank === 1 ? ' class="best"' : e.fullFidelity ? '' : ' class="partial"'}>` +
      `<td class="num">${e.rank}</td>` +
      `<td><span class="mono">${escapeHtml(e.trialId.split('/').pop() ?? e.trialId)}</span>${front.has(e.trialId) && report.objectives.length > 1 ? ' <span class="tag" title="on the Pareto front">Pareto</span>' : ''}${e.fullFidelity ? '' : ' <span class="tag" title="trained to a lower fidelity than the search\'s full one; not tested">partial</span>'}${listed.has(e.trialId) ? ' <span class="tag warm" title="listed in the spec\'s warmStart.architectures: evaluated first">warm start</span>' : ''}` +
      `<div class="hash mono" title="architecture hash">${escapeHtml(e.hash)}</div></td>` +
      `<td class="arch mono" title="${escapeHtml(arch)}">${escapeHtml(arch)}</td>` +
      e.values.map((v, k) => (k === 0 && e.measurements ? measuredCell(v, e.measurements) : metricCell(v))).join('') +
      valKeys.map((k) => metricCell(e.validation[k])).join('') +
      testKeys.map((k) => metricCell(e.test[k])).join('') +
      costKeys.map((k) => metricCell(e[k])).join('') +
      metricCell(e.fidelity) +
      '</tr>'
    );
  });
  return `<div class="table-wrap"><table class="leaderboard"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div>` +
    (more > 0 ? `<p class="empty">… and ${more} more in the JSON report.</p>` : '');
}

/** Where the search's knowledge came from: the source experiments with their learned weights, and the listed architectures. */
function warmStartSection(report: ExperimentReport): string {
  const w = report.warmStart;
  if (!w) return '';
  const rows = w.sources.map(
    (s) =>
      `<tr><td class="mono">${escapeHtml(s.experimentId)}</td><td class="num">${s.observations ?? '–'}</td><td class="num">${s.weight === undefined ? '–' : escapeHtml(formatNumber(s.weight))}</td></tr>`,
  );
  const weights =
    w.weightsAt !== undefined
      ? `Weights learned from how well each model ranks this search's own results, at trial ${w.weightsAt}${w.targetWeight !== undefined ? ` (this search's own model: ${escapeHtml(formatNumber(w.targetWeight))})` : ''}; 0 means the source was not credible there.`
      : 'No weights yet: the strategy learns them once the search has its own results (the default strategy, one objective).';
  return (
    '<section id="warm-start"><h2>Warm start</h2>' +
    (rows.length
      ? `<div class="table-wrap"><table class="sources"><thead><tr><th>source experiment</th><th class="num">architectures read</th><th class="num">weight</th></tr></thead><tbody>${rows.join('')}</tbody></table></div><p class="empty">${weights}</p>`
      : '') +
    (w.listed ? `<p class="empty">${w.listed} listed architecture${w.listed === 1 ? '' : 's'} evaluated first: ${w.listedTrialIds.length} trial${w.listedTrialIds.length === 1 ? '' : 's'}, tagged <span class="tag warm">warm start</span> in the leaderboard.</p>` : '') +
    '</section>'
  );
}

function summaryCards(report: ExperimentReport): string {
  const c = report.counts;
  const b = report.budget;
  const best = report.leaderboard[0];
  const limit = (spent: number, lim: number | undefined, fmt: (n: number) => string): string =>
    lim !== undefined && lim > 0 ? `${fmt(spent)} <span class="of">/ ${fmt(lim)}</span>` : fmt(spent);
  const cards: [string, string][] = [
    ['best ' + escapeHtml(report.objectives[0]?.metric ?? ''), best ? escapeHtml(formatNumber(best.values[0])) : '–'],
    ['trials', limit(b.spent.trials, b.limits.trials, (n) => String(n))],
    ['completed · failed · stopped', `${c.COMPLETED} · ${c.FAILED} · ${c.STOPPED}`],
    ...(report.screened > 0 ? [['screened out before training', String(report.screened)] as [string, string]] : []),
    ...(report.skipped > 0 ? [['not started: could not finish before the deadline', String(report.skipped)] as [string, string]] : []),
    ['compute-hours', limit(b.spent.hours, b.limits.hours, (n) => escapeHtml(formatNumber(Number(n.toFixed(4)))))],
    ['dollars', limit(b.spent.dollars, b.limits.dollars, (n) => `$${n.toFixed(2)}`)],
    ['wall-clock', escapeHtml(formatDuration(b.elapsedSeconds ?? undefined))],
  ];
  return `<div class="cards">${cards.map(([k, v]) => `<div class="card"><div class="k">${k}</div><div class="v">${v}</div></div>`).join('')}</div>`;
}

function architectureGallery(entries: readonly LeaderboardEntry[], space: Space | undefined): string {
  if (!space || entries.length === 0) return '';
  const figures = entries.map((e) => {
    let svg: string;
    try {
      svg = networkSvg(space.network(e.arch), `Architecture of trial ${e.trialId}`);
    } catch {
      return '';
    }
    const caption = `#${e.rank} · ${e.trialId.split('/').pop() ?? e.trialId} · ${e.values.map((v) => formatNumber(v)).join(' · ')}`;
    return `<figure class="arch-card">${svg}<figcaption>${escapeHtml(caption)}<div class="mono hash">${escapeHtml(e.hash)}</div></figcaption></figure>`;
  });
  return `<section><h2>Top architectures</h2><div class="gallery">${figures.join('')}</div></section>`;
}

const CSS = `
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--accent:#7c3aed}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1160px;margin:0 auto;padding:28px 24px 48px}
header h1{margin:0;font-size:24px}header .sub{color:var(--muted);margin-top:4px}
.state{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;background:#ede9fe;color:#5b21b6;vertical-align:middle;margin-left:8px}
.state.FAILED{background:#fee2e2;color:#991b1b}.state.COMPLETED{background:#dcfce7;color:#166534}
h2{font-size:17px;margin:0 0 12px}section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin-top:18px}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin-top:18px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}.card .k{color:var(--muted);font-size:12px}.card .v{font-size:20px;font-weight:650;margin-top:2px}.card .of{color:var(--muted);font-size:14px;font-weight:500}
.table-wrap{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;white-space:nowrap}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.best td{background:#f5f3ff}tr.partial td{color:#6b7280}tr.partial-head td{font-size:12px;color:#6b7280;border-top:2px solid #e5e7eb;padding-top:8px}.goal{color:var(--accent)}.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.arch{max-width:360px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.hash{color:var(--muted);font-size:11px}
.tag{font-size:10.5px;background:#fef3c7;color:#92400e;border-radius:4px;padding:0 5px;font-weight:600}
.tag.warm{background:#dbeafe;color:#1e40af}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:18px}.chart{position:relative;height:300px}.chart-box h3{margin:0 0 6px;font-size:13.5px;color:#374151}
.gallery{display:flex;flex-wrap:wrap;gap:16px}.arch-card{margin:0;border:1px solid var(--line);border-radius:10px;padding:10px;background:#fff}
.arch-card figcaption{font-size:12.5px;color:#374151;text-align:center;margin-top:4px}.arch-card svg{display:block;max-width:100%;height:auto}
.dependence-grid{display:flex;flex-wrap:wrap;gap:8px}h3{font-size:13.5px;color:#374151;margin:14px 0 6px}
.empty{color:var(--muted)}footer{color:var(--muted);font-size:12px;margin-top:24px;text-align:center}
`;

/**
 * The browser side: reads the embedded data and draws the charts. Kept as a
 * plain string (not a bundled module) because it runs inside the report,
 * not in Node.
 */
const CHARTS_JS = `
(function(){
  var data = JSON.parse(document.getElementById('nasflow-data').textContent);
  if (typeof Chart === 'undefined') return;
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui,-apple-system,'Segoe UI',Roboto,sans-serif";
  Chart.defaults.color = '#374151';
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
  var palette = ['#7c3aed','#2563eb','#059669','#d97706','#dc2626','#0891b2','#db2777','#4b5563'];
  function el(id){ return document.getElementById(id); }
  function axis(title, type){ return { type: type || 'linear', title: { display: true, text: title }, grid: { color: '#eef0f3' } }; }
  var common = { responsive: true, maintainAspectRatio: false, parsing: false };

  var bsf = data.bestSoFar;
  if (el('chart-best-seq') && bsf.bySeq.length) {
    new Chart(el('chart-best-seq'), { type: 'line', data: { datasets: [
      { label: 'best so far', data: bsf.bySeq.filter(function(p){return p.best!==null;}).map(function(p){ return {x:p.seq,y:p.best}; }), borderColor: '#7c3aed', backgroundColor: '#7c3aed', stepped: 'before', pointRadius: 0, borderWidth: 2.5 },
      { label: 'trial', type: 'scatter', data: bsf.bySeq.filter(function(p){return p.value!==null;}).map(function(p){ return {x:p.seq,y:p.value}; }), borderColor: '#9ca3af', backgroundColor: 'rgba(156,163,175,.55)', pointRadius: 3 }
    ]}, options: Object.assign({}, common, { scales: { x: axis('trial #'), y: axis(bsf.metric) } }) });
  }
  if (el('chart-best-cost') && bsf.byCost.length) {
    var useTime = bsf.byCost.every(function(p){ return p.elapsedSeconds !== null; });
    var xs = function(p){ return useTime ? p.elapsedSeconds / 60 : p.hours; };
    new Chart(el('chart-best-cost'), { type: 'line', data: { datasets: [
      { label: 'best so far', data: bsf.byCost.filter(function(p){return p.best!==null;}).map(function(p){ return {x:xs(p),y:p.best}; }), borderColor: '#2563eb', backgroundColor: '#2563eb', stepped: 'before', pointRadius: 0, borderWidth: 2.5 },
      { label: 'trial', type: 'scatter', data: bsf.byCost.filter(function(p){return p.value!==null;}).map(function(p){ return {x:xs(p),y:p.value}; }), borderColor: '#9ca3af', backgroundColor: 'rgba(156,163,175,.55)', pointRadius: 3 }
    ]}, options: Object.assign({}, common, { scales: { x: axis(useTime ? 'elapsed (minutes)' : 'compute-hours'), y: axis(bsf.metric) } }) });
  }
  data.tradeOffs.forEach(function(t, i){
    var c = el('chart-tradeoff-' + i); if (!c) return;
    var front = t.points.filter(function(p){ return p.front; }).sort(function(a,b){ return a.x-b.x; });
    var logX = t.x === 'params' || t.x === 'flops';
    new Chart(c, { type: 'scatter', data: { datasets: [
      { label: 'Pareto front', type: 'line', data: front.map(function(p){ return {x:p.x,y:p.y,id:p.trialId}; }), borderColor: '#dc2626', backgroundColor: '#dc2626', stepped: t.yGoal === 'max' ? 'after' : 'before', pointRadius: 5, borderWidth: 2 },
      { label: 'other trials', data: t.points.filter(function(p){ return !p.front; }).map(function(p){ return {x:p.x,y:p.y,id:p.trialId}; }), backgroundColor: 'rgba(107,114,128,.45)', pointRadius: 3.5 }
    ]}, options: Object.assign({}, common, {
      scales: { x: axis(t.x, logX ? 'logarithmic' : 'linear'), y: axis(t.y) },
      plugins: { tooltip: { callbacks: { label: function(ctx){ return ctx.raw.id + ': ' + t.x + ' ' + ctx.raw.x + ', ' + t.y + ' ' + ctx.raw.y; } } } }
    }) });
  });
  if (el('chart-curves') && data.curves.series.length) {
    new Chart(el('chart-curves'), { type: 'line', data: { datasets: data.curves.series.map(function(s, i){
      return { label: s.label, data: s.points, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], pointRadius: 2, borderWidth: 2, tension: 0.2 };
    }) }, options: Object.assign({}, common, { scales: { x: axis('epoch'), y: axis(data.curves.metric) } }) });
  }
})();
`;

/** Renders the report of `experiment` as one self-contained HTML document. */
export function renderHtmlReport(experiment: Experiment, trials: readonly Trial[], options: HtmlReportOptions = {}): string {
  const space = options.space ?? specSpace(experiment.spec);
  const report = buildReport(experiment, trials, { ...options, ...(space ? { space } : {}) });
  return renderHtml(report, trials, { ...options, ...(space ? { space } : {}) });
}

/** Renders an already built report; `trials` supplies the learning curves. */
export function renderHtml(report: ExperimentReport, trials: readonly Trial[], options: HtmlReportOptions = {}): string {
  const top = report.leaderboard.slice(0, options.top ?? 5);
  const byId = new Map(trials.map((t) => [t.id, t]));
  const metric = curveMetric(report, top.map((e) => byId.get(e.trialId)).filter((t): t is Trial => t !== undefined));
  const series = metric
    ? top
        .map((e) => {
          const t = byId.get(e.trialId);
          const points = (t?.curve ?? []).filter((r) => Number.isFinite(r.metrics[metric])).map((r) => ({ x: r.epoch, y: r.metrics[metric] as number }));
          return { label: `#${e.rank} ${e.trialId.split('/').pop() ?? e.trialId}`, points };
        })
        .filter((s) => s.points.length > 0)
    : [];
  const data = { bestSoFar: report.bestSoFar, tradeOffs: report.tradeOffs, curves: { metric: metric ?? null, series } };

  const ex = report.experiment;
  const sub = [
    `<span class="mono">${escapeHtml(ex.id)}</span>`,
    ex.startedAt ? `started ${escapeHtml(ex.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}` : '',
    report.objectives.map((o) => `${escapeHtml(o.goal)} ${escapeHtml(o.metric)}`).join(', '),
    ex.spaceKind ? `${escapeHtml(ex.spaceKind)} space` : '',
  ]
    .filter((s) => s !== '')
    .join(' · ');
  const tradeOffTitle = (x: string, y: string): string => `${y} against ${x === 'latency_ms' ? 'latency (ms)' : x}`;
  const chartBox = (id: string, title: string): string => `<div class="chart-box"><h3>${escapeHtml(title)}</h3><div class="chart"><canvas id="${id}"></canvas></div></div>`;
  const bestMetric = report.bestSoFar.metric ?? 'objective';

  const body = [
    `<header><h1>${escapeHtml(ex.name)}<span class="state ${escapeHtml(ex.state)}">${escapeHtml(ex.state)}</span></h1><div class="sub">${sub}</div>` +
      (ex.reason ? `<div class="sub">${escapeHtml(ex.reason)}</div>` : '') +
      '</header>',
    summaryCards(report),
    warmStartSection(report),
    `<section><h2>Leaderboard</h2>${leaderboardTable(report)}</section>`,
    options.insights ? insightsSections(options.insights) : '',
    report.bestSoFar.bySeq.length
      ? `<section><h2>Best so far</h2><div class="charts">${chartBox('chart-best-seq', `${bestMetric} by trial`)}${chartBox('chart-best-cost', `${bestMetric} over time`)}</div></section>`
      : '',
    report.tradeOffs.length
      ? `<section><h2>Pareto front</h2><div class="charts">${report.tradeOffs
          .filter((t) => t.x !== 'flops' || report.tradeOffs.length < 2)
          .map((t) => chartBox(`chart-tradeoff-${report.tradeOffs.indexOf(t)}`, tradeOffTitle(t.x, t.y)))
          .join('')}</div></section>`
      : '',
    series.length ? `<section><h2>Learning curves (top ${series.length})</h2><div class="chart" style="height:320px"><canvas id="chart-curves"></canvas></div></section>` : '',
    architectureGallery(top, options.space),
    `<footer>nasflow report · generated ${escapeHtml(report.generatedAt)} · ${report.counts.total} trials</footer>`,
  ].join('\n');

  // A `</script` inside the inlined library would end its element early.
  const lib = (options.chartJs ?? chartJsSource()).replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(`${ex.name} · nasflow report`)}</title>
<style>${CSS}</style></head>
<body><main>
${body}
</main>
<script id="nasflow-data" type="application/json">${jsonForScript(data)}</script>
<script>${lib}</script>
<script>${CHARTS_JS}</script>
</body></html>
`;
}
