/**
 * One experiment's page (`#/experiments/<id>`): cards, the four charts,
 * the leaderboard with architecture pictures and model downloads, trials
 * page by page, live while the search runs, and the stop button.
 */
import { formatDuration } from '../../shared/report/format.js';
import { insightsSections } from '../../shared/report/insights-html.js';
import { api, ApiError, type ChartData, type ExperimentDetail, type TrialRow } from './api.js';
import { drawBestSoFar, drawCurves, drawScatter, drawTradeOff, type BestAxis } from './charts.js';
import { h } from './dom.js';
import { app, badge, current, fmt, liveEl, LIVE_STATES, schedule, setLive, when } from './page.js';

interface DetailState {
  id: string;
  gen: number;
  detail: ExperimentDetail;
  charts?: ChartData;
  version?: string;
  axis: BestAxis;
  tradeOff: number;
  curves: string[];
  curvesAuto: boolean;
  cursors: (string | undefined)[];
  page: number;
  stateFilter: string;
}

function card(k: string, v: string | Node, frac?: number): HTMLElement {
  return h('div', { class: 'card' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v), frac !== undefined ? h('div', { class: 'bar' }, h('i', { style: `width:${Math.min(100, Math.max(0, frac * 100)).toFixed(1)}%` })) : null);
}

function chartBox(id: string, title: string, control?: HTMLElement, note?: HTMLElement): HTMLElement {
  return h('section', { class: 'chart', id: `${id}-chart` }, h('header', {}, h('h3', {}, title), control), h('div', { class: 'box' }, h('canvas', { id })), note);
}

/** Draws the page of experiment `id` and keeps it live; `gen` is the page's generation. */
export async function renderDetail(id: string, gen: number): Promise<void> {
  const st: DetailState = { id, gen, detail: undefined as unknown as ExperimentDetail, axis: 'trials', tradeOff: 0, curves: [], curvesAuto: true, cursors: [undefined], page: 0, stateFilter: '' };

  const head = h('div', { class: 'head' });
  const cards = h('div', { class: 'cards', id: 'cards' });
  const axisSel = h('select', { id: 'best-axis', 'aria-label': 'x axis' }, ...(['trials', 'time', 'hours', 'dollars'] as const).map((a) => h('option', { value: a }, { trials: 'against trials', time: 'against time', hours: 'against compute-hours', dollars: 'against cost ($)' }[a])));
  axisSel.addEventListener('change', () => {
    st.axis = axisSel.value as BestAxis;
    drawAll(st);
  });
  const tradeSel = h('select', { id: 'pareto-axis', 'aria-label': 'trade-off' });
  tradeSel.addEventListener('change', () => {
    st.tradeOff = Number(tradeSel.value);
    drawAll(st);
  });
  const scatterNote = h('p', { class: 'note', id: 'scatter-note' });
  const paretoNote = h('p', { class: 'note', id: 'pareto-note' });
  const curvesNote = h('p', { class: 'note', id: 'curves-note' }, 'Tick trials in the leaderboard to compare their curves.');
  const charts = h(
    'div',
    { class: 'charts' },
    chartBox('best', 'Best so far', axisSel),
    chartBox('scatter', 'All trials', undefined, scatterNote),
    chartBox('pareto', 'Pareto front', tradeSel, paretoNote),
    chartBox('curves', 'Learning curves', undefined, curvesNote),
  );
  const board = h('div', { id: 'leaderboard-box' });
  const warm = h('div', { id: 'warm-start' });
  const trials = h('div', { id: 'trials-box' });
  // What the search learned: server-computed, drawn as inline SVG (every text in it escaped).
  const learned = h('div', { id: 'insights-box', class: 'insights' });
  let shown = false;

  const refresh = async (): Promise<void> => {
    const d = await api.get(id, 10);
    if (!current(gen)) return;
    st.detail = d;
    // The skeleton goes up with the first answer, so an unknown id shows its error instead.
    if (!shown) {
      app.replaceChildren(head, cards, warm, h('h2', {}, 'Charts'), charts, h('h2', {}, 'Leaderboard'), board, learned, h('h2', {}, 'Trials'), trials);
      shown = true;
    }
    renderHead(st, head, cards);
    renderWarmStart(st, warm);
    if (d.version !== st.version) {
      st.version = d.version;
      const c = await api.charts(id);
      if (!current(gen)) return;
      st.charts = c;
      tradeSel.replaceChildren(...c.tradeOffs.map((t, i) => h('option', { value: i, selected: i === st.tradeOff }, `${t.y} vs ${t.x}`)));
      if (st.curvesAuto) st.curves = d.leaderboard.slice(0, 5).map((e) => e.trialId);
      drawAll(st);
      renderBoard(st, board);
      await drawCurveChart(st);
      // Not awaited: the trials table need not wait for the forest.
      void api.insights(id).then(
        (ins) => {
          if (current(gen)) learned.innerHTML = insightsSections(ins);
        },
        () => undefined,
      );
      if (st.page === 0) await loadTrials(st, trials);
    }
    const live = LIVE_STATES.includes(d.state);
    setLive(live);
    if (live) schedule(refresh, gen);
  };
  await refresh();
}

/** The stop button of the page shown now: one element, updated in place, so a poll never swaps it under a click. */
let stopButton: HTMLButtonElement | undefined;

function stopButtonFor(st: DetailState): HTMLButtonElement {
  if (stopButton?.dataset.experiment === st.id && stopButton.isConnected) return stopButton;
  const stop = h('button', { id: 'stop', class: 'danger', 'data-experiment': st.id, title: 'propose nothing more; running trials finish' }, 'Stop search');
  stop.addEventListener('click', () => {
    stop.disabled = true;
    api
      .stop(st.id)
      .then(() => {
        stop.textContent = 'Stopping…';
        st.version = undefined;
      })
      .catch((e: unknown) => {
        stop.disabled = false;
        liveEl.textContent = e instanceof ApiError ? e.message : String(e);
      });
  });
  return (stopButton = stop);
}

function renderHead(st: DetailState, head: HTMLElement, cards: HTMLElement): void {
  const d = st.detail;
  const live = LIVE_STATES.includes(d.state);
  const stop = stopButtonFor(st);
  stop.disabled = !live || d.stopRequestedAt !== undefined;
  stop.textContent = d.stopRequestedAt && live ? 'Stopping…' : 'Stop search';
  head.replaceChildren(
    h('div', {}, h('h1', { id: 'exp-id' }, d.id), h('div', {}, badge(d.state), ' ', h('span', { class: 'muted', id: 'exp-reason' }, d.reason ?? (d.stopRequestedAt ? 'stop requested' : '')))),
    h('div', { class: 'actions' }, stop),
  );
  const lim = d.budget.limits;
  const c = d.counts;
  cards.replaceChildren(
    card('best', d.best ? h('span', { id: 'best-value' }, fmt(d.best.value)) : '–'),
    card('trials', `${c.COMPLETED} done · ${c.RUNNING} running · ${c.FAILED + c.STOPPED} failed/stopped`, lim.trials ? d.budget.spent.trials / lim.trials : undefined),
    card('compute-hours', fmt(d.budget.spent.hours), lim.hours ? d.budget.spent.hours / lim.hours : undefined),
    card('cost', `$${d.budget.spent.dollars.toFixed(2)}`, lim.dollars ? d.budget.spent.dollars / lim.dollars : undefined),
    card('elapsed', formatDuration(d.budget.elapsedSeconds ?? undefined)),
    card('started / finished', `${when(d.startedAt)}${d.finishedAt ? ` → ${new Date(d.finishedAt).toLocaleTimeString()}` : ''}`),
  );
}

function drawAll(st: DetailState): void {
  const c = st.charts;
  if (!c) return;
  drawBestSoFar(document.getElementById('best') as HTMLCanvasElement, c, st.axis);
  drawScatter(document.getElementById('scatter') as HTMLCanvasElement, c);
  const note = document.getElementById('scatter-note') as HTMLElement;
  note.textContent = c.scatter.points.length < c.scatter.total ? `${c.scatter.total.toLocaleString()} trials with a value, ${c.scatter.points.length.toLocaleString()} drawn (each stretch's lowest and highest)` : `${c.scatter.total.toLocaleString()} trials with a value`;
  const t = c.tradeOffs[st.tradeOff];
  const pnote = document.getElementById('pareto-note') as HTMLElement;
  if (t) {
    drawTradeOff(document.getElementById('pareto') as HTMLCanvasElement, c, st.tradeOff);
    pnote.textContent = `${t.points.filter((p) => p[3] === 1).length} architectures on the front of ${t.total.toLocaleString()}`;
  } else pnote.textContent = 'No cost metric (params, FLOPs, latency) recorded yet.';
}

async function drawCurveChart(st: DetailState): Promise<void> {
  if (!st.curves.length) return;
  const r = await api.curves(st.id, st.curves);
  if (!current(st.gen)) return;
  drawCurves(document.getElementById('curves') as HTMLCanvasElement, r.metric, r.curves);
  const single = r.curves.every((c) => c.points.length <= 1);
  (document.getElementById('curves-note') as HTMLElement).textContent = single
    ? 'These trials recorded one point each (a table benchmark reports final values only).'
    : 'Tick trials in the leaderboard to compare their curves.';
}

/** Where the search's knowledge came from (the spec's warmStart): source experiments with their learned weights, and the listed architectures. */
function renderWarmStart(st: DetailState, box: HTMLElement): void {
  const w = st.detail.warmStart;
  if (!w) {
    box.replaceChildren();
    return;
  }
  const weights =
    w.weightsAt !== undefined
      ? `Weights learned from how well each model ranks this search's own results, at trial ${w.weightsAt}${w.targetWeight !== undefined ? ` (this search's own model: ${fmt(w.targetWeight)})` : ''}; 0: not credible there.`
      : 'No weights yet: the strategy learns them once the search has results of its own.';
  box.replaceChildren(
    h('h2', {}, 'Warm start'),
    ...(w.sources.length
      ? [
          h(
            'table',
            { id: 'warm-sources' },
            h('thead', {}, h('tr', {}, h('th', {}, 'source experiment'), h('th', { class: 'num' }, 'architectures read'), h('th', { class: 'num' }, 'weight'))),
            h(
              'tbody',
              {},
              w.sources.map((s) =>
                h('tr', { 'data-source': s.experimentId }, h('td', {}, h('a', { href: `#/experiments/${encodeURIComponent(s.experimentId)}`, class: 'mono' }, s.experimentId)), h('td', { class: 'num', 'data-observations': s.observations ?? '' }, s.observations ?? '–'), h('td', { class: 'num', 'data-weight': s.weight ?? '' }, s.weight === undefined ? '–' : fmt(s.weight))),
              ),
            ),
          ),
          h('p', { class: 'note' }, weights),
        ]
      : []),
    ...(w.listed ? [h('p', { class: 'note' }, `${w.listed} listed architecture${w.listed === 1 ? '' : 's'} evaluated first (${w.listedTrialIds.length} trial${w.listedTrialIds.length === 1 ? '' : 's'}), tagged "warm start" in the leaderboard.`)] : []),
  );
}

function renderBoard(st: DetailState, box: HTMLElement): void {
  const d = st.detail;
  if (!d.leaderboard.length) {
    box.replaceChildren(h('p', { class: 'empty' }, 'No completed feasible trial yet.'));
    return;
  }
  const objectives = d.objectives;
  const testKeys = [...new Set(d.leaderboard.flatMap((e) => Object.keys(e.test)))].slice(0, 2);
  const extra = (['params', 'latency_ms'] as const).filter((k) => !objectives.some((o) => o.metric === k) && d.leaderboard.some((e) => e[k] !== undefined));
  const listed = new Set(d.warmStart?.listedTrialIds ?? []);
  const rows = d.leaderboard.map((e) => {
    const tick = h('input', { type: 'checkbox', 'aria-label': `curve of trial ${e.seq}`, checked: st.curves.includes(e.trialId) });
    tick.addEventListener('change', () => {
      st.curvesAuto = false;
      st.curves = tick.checked ? [...st.curves, e.trialId].slice(-10) : st.curves.filter((x) => x !== e.trialId);
      void drawCurveChart(st);
    });
    // Partial results (below every full-fidelity one) are greyed and say so.
    return h(
      'tr',
      { 'data-trial': e.trialId, ...(e.fullFidelity === false ? { class: 'partial', title: 'partial: trained to a lower fidelity than the search\'s full one, not tested' } : {}) },
      h('td', { class: 'num' }, e.rank),
      h('td', {}, h('span', { class: 'mono' }, `#${e.seq}`), listed.has(e.trialId) ? h('span', { class: 'tag warm', title: "listed in the spec's warmStart.architectures: evaluated first" }, 'warm start') : undefined, h('div', { class: 'mono muted', title: 'architecture hash' }, e.hash.slice(0, 10))),
      h('td', { class: 'arch' }, h('img', { src: api.svgUrl(st.id, e.trialId), alt: e.summary ?? e.hash, loading: 'lazy' }), h('div', { class: 'sum mono muted', title: e.summary ?? '' }, e.summary ?? '')),
      ...objectives.map((o, i) => h('td', { class: 'num', 'data-metric': o.metric, 'data-value': e.values[i] ?? '' }, fmt(e.values[i]), i === 0 && e.measurements ? h('div', { class: 'muted', title: 'measured more than once (a noisy objective): mean ± sd over n measurements; ranked by the noise-aware estimate' }, `${fmt(e.measurements.mean)} ± ${fmt(e.measurements.sd)} (n=${e.measurements.n})`) : undefined)),
      ...testKeys.map((k) => h('td', { class: 'num', 'data-metric': k }, fmt(e.test[k]))),
      ...extra.map((k) => h('td', { class: 'num', 'data-metric': k }, fmt(e[k]))),
      h('td', { class: 'num' }, fmt(e.fidelity), e.fullFidelity === false ? h('div', { class: 'muted' }, 'partial') : undefined),
      h('td', {}, e.hasModel ? h('a', { href: api.modelUrl(st.id, e.trialId), download: `${e.trialId}-model.tar.gz`, class: 'model' }, 'TF.js model') : h('span', { class: 'muted', title: 'no model stored (table benchmarks train nothing)' }, '–')),
      h('td', {}, tick),
    );
  });
  box.replaceChildren(
    h(
      'table',
      { id: 'leaderboard' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { class: 'num' }, '#'),
          h('th', {}, 'trial'),
          h('th', {}, 'architecture'),
          ...objectives.map((o) => h('th', { class: 'num' }, `${o.metric} ${o.goal === 'max' ? '↑' : '↓'}`)),
          ...testKeys.map((k) => h('th', { class: 'num' }, k)),
          ...extra.map((k) => h('th', { class: 'num' }, k)),
          h('th', { class: 'num' }, 'fidelity'),
          h('th', {}, 'download'),
          h('th', {}, 'curve'),
        ),
      ),
      h('tbody', {}, rows),
    ),
    h('p', { class: 'muted' }, `Top ${d.leaderboard.length} of ${d.ranked.toLocaleString()} ranked architectures.`),
  );
}

async function loadTrials(st: DetailState, box: HTMLElement): Promise<void> {
  const page = await api.trials(st.id, { limit: 50, ...(st.cursors[st.page] ? { cursor: st.cursors[st.page] as string } : {}), ...(st.stateFilter ? { state: st.stateFilter } : {}) });
  if (!current(st.gen)) return;
  st.cursors[st.page + 1] = page.nextCursor;
  const objectives = st.detail.objectives;
  const filter = h('select', { id: 'trial-state', 'aria-label': 'state' }, ...['', 'COMPLETED', 'RUNNING', 'FAILED', 'STOPPED', 'PENDING'].map((s) => h('option', { value: s, selected: s === st.stateFilter }, s || 'all states')));
  filter.addEventListener('change', () => {
    st.stateFilter = filter.value;
    st.cursors = [undefined];
    st.page = 0;
    void loadTrials(st, box);
  });
  const prev = h('button', { id: 'trials-prev', disabled: st.page === 0 }, '← previous');
  const next = h('button', { id: 'trials-next', disabled: !page.nextCursor }, 'next →');
  prev.addEventListener('click', () => {
    st.page--;
    void loadTrials(st, box);
  });
  next.addEventListener('click', () => {
    st.page++;
    void loadTrials(st, box);
  });
  // Weight inheritance: which trial's weights a child started from, through which transform.
  const lineage = (t: TrialRow) =>
    t.inherit
      ? h('div', { class: 'lineage', 'data-parent': t.inherit.parentId }, `← ${t.inherit.parentId.split('/').pop() ?? t.inherit.parentId} (${t.inherit.transform}${t.metrics?.['inherited'] === 0 ? ', trained from scratch' : `, from epoch ${t.inherit.startEpoch}`})`)
      : undefined;
  const row = (t: TrialRow) =>
    h(
      'tr',
      { 'data-seq': t.seq },
      h('td', { class: 'num' }, t.seq),
      h('td', {}, badge(t.state)),
      h('td', { class: 'mono' }, t.summary ?? t.hash),
      ...objectives.map((o, i) => h('td', { class: 'num' }, fmt(t.values?.[i] ?? t.metrics?.[o.metric]))),
      h('td', { class: 'num' }, fmt(t.fidelity)),
      h('td', { class: 'num' }, fmt(t.cost?.hours)),
      h('td', {}, lineage(t), t.reason ?? ''),
    );
  box.replaceChildren(
    h(
      'table',
      { id: 'trials' },
      h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'seq'), h('th', {}, 'state'), h('th', {}, 'architecture'), ...objectives.map((o) => h('th', { class: 'num' }, o.metric)), h('th', { class: 'num' }, 'fidelity'), h('th', { class: 'num' }, 'hours'), h('th', {}, 'note'))),
      h('tbody', {}, page.trials.map(row)),
    ),
    h('div', { class: 'pager' }, prev, h('span', { class: 'muted', id: 'trials-page' }, `page ${st.page + 1}`), next, filter),
  );
}

