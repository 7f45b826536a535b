/** The experiments page (`#/`): status, budget, best score, start and end; refreshed while any search runs. */
import { api, type ExperimentSummary } from './api.js';
import { h } from './dom.js';
import { app, badge, current, fmt, LIVE_STATES, schedule, setLive, when } from './page.js';

function budgetText(e: ExperimentSummary): string {
  const { spent, limits } = e.budget;
  const parts = [`${spent.trials}${limits.trials !== undefined ? ` / ${limits.trials}` : ''} trials`];
  if (spent.hours > 0 || limits.hours !== undefined) parts.push(`${fmt(spent.hours)}${limits.hours !== undefined ? ` / ${fmt(limits.hours)}` : ''} h`);
  if (spent.dollars > 0 || limits.dollars !== undefined) parts.push(`$${spent.dollars.toFixed(2)}${limits.dollars !== undefined ? ` / $${limits.dollars}` : ''}`);
  return parts.join(' · ');
}

function bestText(e: ExperimentSummary): string {
  return e.best ? `${fmt(e.best.value)} ${e.best.metric}` : '–';
}

/** Draws the list; `gen` is the page's generation. */
export async function renderList(gen: number): Promise<void> {
  const { experiments } = await api.list();
  if (!current(gen)) return;
  const live = experiments.some((e) => LIVE_STATES.includes(e.state));
  setLive(live);
  const rows = experiments.map((e) =>
    h(
      'tr',
      { 'data-experiment': e.id },
      h('td', {}, h('a', { href: `#/experiments/${encodeURIComponent(e.id)}` }, e.id)),
      h('td', {}, badge(e.state), e.stopRequestedAt && e.state !== 'STOPPED' ? h('span', { class: 'muted' }, ' stop requested') : null),
      h('td', {}, budgetText(e)),
      h('td', { class: 'num', 'data-best': e.best?.value ?? '' }, bestText(e)),
      h('td', {}, when(e.startedAt ?? e.createdAt)),
      h('td', {}, when(e.finishedAt)),
    ),
  );
  app.replaceChildren(
    h('div', { class: 'head' }, h('h1', {}, 'Experiments'), h('div', { class: 'actions' }, h('a', { href: '#/new' }, h('button', { class: 'primary' }, 'New search')))),
    experiments.length
      ? h('table', { id: 'experiments' }, h('thead', {}, h('tr', {}, h('th', {}, 'experiment'), h('th', {}, 'status'), h('th', {}, 'budget spent'), h('th', { class: 'num' }, 'best'), h('th', {}, 'started'), h('th', {}, 'finished'))), h('tbody', {}, rows))
      : h('p', { class: 'empty' }, 'No experiments yet. Start one with "New search" or `nasflow search spec.yaml`.'),
  );
  if (live) schedule(() => renderList(gen), gen);
}

