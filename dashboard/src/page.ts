/**
 * What every page of the dashboard shares: the page's element, the "live"
 * indicator, polling that a navigation cancels, errors, and formatting.
 */
import { formatNumber } from '../../shared/report/format.js';
import { ApiError } from './api.js';
import { h } from './dom.js';

/** The element a page draws into. */
export const app = document.getElementById('app') as HTMLElement;
/** The "live" indicator in the header; also where a failed stop request says why. */
export const liveEl = document.getElementById('live') as HTMLElement;
/** States in which a search still changes. */
export const LIVE_STATES = ['QUEUED', 'RUNNING', 'STOPPING'];
const POLL_MS = 2000;

/** Incremented on every navigation: async work of an older page drops its result. */
let generation = 0;
let timer: number | undefined;

/** Starts a new page: older pages' polls and async results are dropped. Returns the new page's generation. */
export function navigate(): number {
  generation++;
  window.clearTimeout(timer);
  return generation;
}

/** True while the page of generation `gen` is the one shown. */
export function current(gen: number): boolean {
  return gen === generation;
}

/** Runs `fn` again in POLL_MS; a failed poll (server restarting, network) is retried, the page kept. */
export function schedule(fn: () => Promise<void>, gen: number): void {
  window.clearTimeout(timer);
  timer = window.setTimeout(() => {
    if (gen !== generation) return;
    void fn().catch(() => {
      if (gen !== generation) return;
      liveEl.textContent = 'connection lost, retrying…';
      liveEl.classList.remove('on');
      schedule(fn, gen);
    });
  }, POLL_MS);
}

export function setLive(on: boolean): void {
  liveEl.textContent = on ? 'live' : '';
  liveEl.classList.toggle('on', on);
}

/** Replaces the page with an error message (an unknown experiment, the server gone). */
export function showError(e: unknown): void {
  const msg = e instanceof ApiError ? `${e.status}: ${e.message}` : (e as Error).message;
  app.replaceChildren(h('p', { class: 'errors', role: 'alert' }, msg));
}

/** A number as the reports print it; – for none. */
export const fmt = (v: number | null | undefined) => formatNumber(v ?? undefined);
/** A local date and time; – for none. */
export const when = (iso?: string) => (iso ? new Date(iso).toLocaleString() : '–');
/** An experiment or trial state as a coloured badge. */
export const badge = (s: string) => h('span', { class: `badge ${s}`, 'data-state': s }, s);
