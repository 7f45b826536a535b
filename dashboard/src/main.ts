/**
 * The nasflow dashboard: experiments list (`list.ts`), one experiment
 * (`experiment.ts`: charts, leaderboard with architecture pictures and model
 * downloads, trials page by page, live while the search runs, a stop
 * button) and a spec form (`new.ts`). Everything it shows comes from the
 * API's bounded views; it never asks for more than one page of trials.
 * This module only routes.
 */
import { destroyCharts } from './charts.js';
import { renderDetail } from './experiment.js';
import { renderList } from './list.js';
import { renderNew } from './new.js';
import { navigate, showError } from './page.js';

function route(): void {
  const gen = navigate();
  destroyCharts();
  const hash = location.hash.replace(/^#/, '') || '/';
  const m = /^\/experiments\/(.+)$/.exec(hash);
  if (m) void renderDetail(decodeURIComponent(m[1] as string), gen).catch(showError);
  else if (hash === '/new') renderNew();
  else void renderList(gen).catch(showError);
}

window.addEventListener('hashchange', route);
route();
