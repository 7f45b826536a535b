/**
 * The dashboard's four charts, drawn by Chart.js from the server's bounded
 * chart data. Every chart is kept on `window.__nasflow.charts` so a browser
 * test (or a curious user) can inspect it.
 */
import {
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartConfiguration,
  type ChartDataset,
} from 'chart.js';
import type { ChartData } from './api.js';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, Legend);
Chart.defaults.animation = false;
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", sans-serif';
Chart.defaults.maintainAspectRatio = false;

declare global {
  interface Window {
    __nasflow?: { charts: Record<string, Chart> };
  }
}

const registry = (window.__nasflow ??= { charts: {} }).charts;
const types: Record<string, string> = {};

type XY = { x: number; y: number };

/** Draws (or redraws in place) the chart named `name` on `canvas`. */
function draw(name: string, canvas: HTMLCanvasElement, config: ChartConfiguration<'line' | 'scatter', XY[]>): Chart {
  const old = registry[name];
  if (old && old.canvas === canvas && types[name] === config.type) {
    old.data = config.data as never;
    old.options = config.options as never;
    old.update('none');
    return old;
  }
  old?.destroy();
  const chart = new Chart(canvas, config as never);
  registry[name] = chart;
  types[name] = config.type;
  return chart;
}

/** Forgets every chart (the page moved elsewhere). */
export function destroyCharts(): void {
  for (const [k, c] of Object.entries(registry)) {
    c.destroy();
    delete registry[k];
  }
}

const BLUE = '#2563eb';
const GREY = 'rgba(107,114,128,0.45)';
const RED = '#dc2626';

export type BestAxis = 'trials' | 'time' | 'hours' | 'dollars';

const AXIS_TITLE: Record<BestAxis, string> = { trials: 'trial', time: 'wall-clock minutes', hours: 'compute-hours', dollars: 'dollars' };

export function drawBestSoFar(canvas: HTMLCanvasElement, data: ChartData, axis: BestAxis): Chart {
  const b = data.bestSoFar;
  const points: XY[] =
    axis === 'trials'
      ? b.byTrial.map(([x, y]) => ({ x, y }))
      : b.byCost.filter((p) => axis !== 'time' || p.t !== null).map((p) => ({ x: axis === 'time' ? (p.t as number) / 60 : axis === 'hours' ? p.h : p.d, y: p.best }));
  return draw('best', canvas, {
    type: 'line',
    data: { datasets: [{ label: `best ${b.metric ?? ''} (${b.goal})`, data: points, borderColor: BLUE, backgroundColor: BLUE, stepped: 'before', pointRadius: 2, borderWidth: 2 }] },
    options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: AXIS_TITLE[axis] } }, y: { title: { display: true, text: b.metric ?? '' } } }, plugins: { legend: { display: false } } },
  });
}

export function drawScatter(canvas: HTMLCanvasElement, data: ChartData): Chart {
  const ranked: XY[] = [];
  const other: XY[] = [];
  for (const [seq, y, ok] of data.scatter.points) (ok ? ranked : other).push({ x: seq, y });
  const metric = data.bestSoFar.metric ?? 'value';
  const datasets: ChartDataset<'scatter', XY[]>[] = [
    { label: 'completed', data: ranked, backgroundColor: 'rgba(37,99,235,0.55)', pointRadius: 2.5 },
    { label: 'failed / stopped / infeasible', data: other, backgroundColor: GREY, pointRadius: 2.5 },
    { label: 'best so far', data: data.bestSoFar.byTrial.map(([x, y]) => ({ x, y })), type: 'line', borderColor: RED, backgroundColor: RED, stepped: 'before', pointRadius: 0, borderWidth: 1.5 } as unknown as ChartDataset<'scatter', XY[]>,
  ];
  return draw('scatter', canvas, {
    type: 'scatter',
    data: { datasets },
    options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'trial' } }, y: { title: { display: true, text: metric } } } },
  });
}

export function drawTradeOff(canvas: HTMLCanvasElement, data: ChartData, index: number): Chart | undefined {
  const t = data.tradeOffs[index];
  if (!t) return undefined;
  const all = t.points.map(([x, y]) => ({ x, y }));
  const front = t.points.filter((p) => p[3] === 1).map(([x, y]) => ({ x, y })).sort((a, b) => a.x - b.x);
  const xs = all.map((p) => p.x).filter((x) => x > 0);
  const log = xs.length > 1 && Math.max(...xs) / Math.min(...xs) > 50;
  return draw('pareto', canvas, {
    type: 'scatter',
    data: {
      datasets: [
        { label: 'Pareto front', data: front, type: 'line', borderColor: RED, backgroundColor: RED, stepped: 'before', pointRadius: 4, borderWidth: 1.5 } as unknown as ChartDataset<'scatter', XY[]>,
        { label: 'architectures', data: all, backgroundColor: 'rgba(37,99,235,0.35)', pointRadius: 2.5 },
      ],
    },
    options: { parsing: false, scales: { x: { type: log ? 'logarithmic' : 'linear', title: { display: true, text: t.x } }, y: { title: { display: true, text: `${t.y} (${t.yGoal})` } } } },
  });
}

const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#4b5563', '#ea580c'];

export function drawCurves(canvas: HTMLCanvasElement, metric: string, curves: readonly { trialId: string; seq: number; points: readonly [number, number][] }[]): Chart {
  return draw('curves', canvas, {
    type: 'line',
    data: {
      datasets: curves.map((c, i) => ({
        label: `#${c.seq}`,
        data: c.points.map(([x, y]) => ({ x, y })),
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length],
        pointRadius: 3,
        borderWidth: 2,
      })),
    },
    options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'epoch' } }, y: { title: { display: true, text: metric } } } },
  });
}
