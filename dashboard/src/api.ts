/** Calls to the nasflow API (mounted under /api by `nasflow serve`). */
import type { ReportInsights } from '../../shared/analysis/insights.js';
import type { ApiErrorBody, ChartData, ExperimentDetail, ExperimentSummary, TrialRow } from '../../shared/api/index.js';

export type { ChartData, ExperimentDetail, ExperimentSummary, TrialRow };

/** A non-2xx answer: its status and the API's error body. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly body: ApiErrorBody) {
    super(body.message);
  }
}

const BASE = 'api';

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${BASE}${path}`, { cache: 'no-store', ...init });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { error: 'BadResponse', message: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(res.status, body as ApiErrorBody);
  return body as T;
}

const enc = encodeURIComponent;

export const api = {
  list: () => call<{ experiments: ExperimentSummary[] }>('/experiments'),
  get: (id: string, top = 10) => call<ExperimentDetail>(`/experiments/${enc(id)}?top=${top}`),
  charts: (id: string) => call<ChartData>(`/experiments/${enc(id)}/charts`),
  insights: (id: string) => call<ReportInsights>(`/experiments/${enc(id)}/insights`),
  trials: (id: string, q: { limit: number; cursor?: string; state?: string }) =>
    call<{ trials: TrialRow[]; nextCursor?: string }>(
      `/experiments/${enc(id)}/trials?limit=${q.limit}${q.cursor ? `&cursor=${enc(q.cursor)}` : ''}${q.state ? `&state=${enc(q.state)}` : ''}`,
    ),
  curves: (id: string, trials: readonly string[]) =>
    call<{ metric: string; curves: { trialId: string; seq: number; state: string; points: [number, number][] }[] }>(`/experiments/${enc(id)}/curves?trials=${trials.map(enc).join(',')}`),
  submit: (specText: string) => call<ExperimentSummary>('/experiments', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: specText }),
  stop: (id: string) => call<ExperimentSummary>(`/experiments/${enc(id)}/stop`, { method: 'POST' }),
  svgUrl: (id: string, trialId: string) => `${BASE}/experiments/${enc(id)}/trials/${enc(trialId)}/architecture.svg`,
  modelUrl: (id: string, trialId: string) => `${BASE}/experiments/${enc(id)}/trials/${enc(trialId)}/model.tar.gz`,
};
