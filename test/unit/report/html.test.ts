import { describe, expect, it } from 'vitest';
import { cellSvg, chainSvg, networkSvg } from '../../../shared/report/architecture.js';
import { escapeHtml, jsonForScript } from '../../../shared/report/format.js';
import { chartJsSource, renderHtmlReport } from '../../../shared/report/html.js';
import { Space } from '../../../shared/space/space.js';
import { DEFAULT_TRAINING } from '../../../shared/space/network.js';
import { cellSearch, chainSearch, experiment, trial } from './fixtures.js';

/** Every src/href/url() that points off the file. */
function externalReferences(html: string): string[] {
  return [...html.matchAll(/(?:\b(?:src|href)\s*=\s*["']?\s*|url\(\s*["']?)(?:https?:)?\/\/[^"' )>]*/gi)].map((m) => m[0]);
}

describe('renderHtmlReport', () => {
  it('shows the leaderboard numbers in the table and is self-contained', () => {
    // Arrange
    const s = chainSearch(30);

    // Act
    const html = renderHtmlReport(s.experiment, s.trials, { objectives: s.objectives, space: s.space });

    // Assert
    const rows = [...html.matchAll(/<tr(?: class="best")?><td class="num">(\d+)<\/td>(.*?)<\/tr>/g)];
    expect(rows.length).toBeGreaterThan(10);
    const best = s.trials
      .filter((t) => t.state === 'COMPLETED' && t.feasible)
      .sort((a, b) => b.metrics!.val_accuracy! - a.metrics!.val_accuracy!)[0]!;
    const first = rows[0]![2]!;
    expect(first).toContain(best.id.split('/')[1]);
    expect(first).toContain(`>${best.metrics!.val_accuracy}<`);
    expect(first).toContain(`>${best.metrics!.test_accuracy}<`);
    expect(first).toContain(`>${best.metrics!.params!.toLocaleString('en-US')}<`);
    expect(first).toContain(best.hash);
    expect(html).toContain(chartJsSource().slice(0, 200));
    expect(externalReferences('<script src="https://cdn.example/c.js"></script><a href=//x.org>') ).toHaveLength(2); // the check can fail
    expect(externalReferences(html)).toEqual([]);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    for (const id of ['chart-best-seq', 'chart-best-cost', 'chart-tradeoff-0', 'chart-tradeoff-1', 'chart-curves']) expect(html).toContain(`id="${id}"`);
    expect(html.match(/<svg /g)?.length).toBe(5);
  });

  it('escapes user strings everywhere, in markup and in the embedded data', () => {
    const evil = '<img src=x onerror=alert(1)>"\'&';
    const exp = experiment({ name: evil, reason: evil, spec: { objectives: [{ metric: 'val_accuracy', goal: 'max' }] } });
    const trials = [trial(1, { id: `exp-1/${evil}`, hash: evil, metrics: { val_accuracy: 0.9 }, curve: [{ epoch: 1, metrics: { val_accuracy: 0.9 } }] })];

    const html = renderHtmlReport(exp, trials, { chartJs: '/* chart */' });

    expect(html).not.toContain('<img');
    expect(html).toContain(escapeHtml(evil));
    const data = html.match(/<script id="nasflow-data" type="application\/json">(.*?)<\/script>/s)![1]!;
    expect(data).not.toContain('<');
    expect(JSON.parse(data).curves.series[0].label).toContain(evil);
  });

  it('neutralises a closing script tag inside the inlined library', () => {
    const html = renderHtmlReport(experiment(), [], { objectives: [], chartJs: 'var s = "</script><b>x</b>";' });

    expect(html).toContain('var s = "<\\/script><b>x</b>";');
    expect(html).toContain('No completed feasible trial yet.');
  });

  it('draws the cell DAG of a cell search with op-labelled edges', () => {
    const s = cellSearch(6);

    const html = renderHtmlReport(s.experiment, s.trials, { objectives: s.objectives, space: s.space, top: 2, chartJs: '' });

    expect(html.match(/<svg [^>]*class="arch arch-cell"/g)?.length).toBe(2);
    expect(html).toContain('|'); // arch_str in the leaderboard
  });
});

describe('architecture pictures', () => {
  it('draws a cell as four nodes and six edges labelled with their ops', () => {
    const svg = cellSvg({ kind: 'cell', ops: ['nor_conv_3x3', 'skip_connect', 'none', 'avg_pool_3x3', 'nor_conv_1x1', 'nor_conv_3x3'], channels: 16, cellsPerStage: 5, stages: 3, training: DEFAULT_TRAINING }, 'a <cell>');

    expect(svg.match(/<circle /g)?.length).toBe(4);
    expect((svg.match(/<line /g)?.length ?? 0) + (svg.match(/<path d="M[^"]*Q/g)?.length ?? 0)).toBe(6);
    expect(svg.match(/conv 3×3</g)?.length).toBe(2);
    for (const label of ['skip<', 'none<', 'avg pool 3×3<', 'conv 1×1<']) expect(svg).toContain(label);
    expect(svg).toContain('stroke-dasharray'); // the `none` edge
    expect(svg).toContain('<title>a &lt;cell&gt;</title>');
  });

  it('draws a chain as input, one box per layer, classifier, with residual arcs', () => {
    const space = Space.fromSpec({ kind: 'chain', depth: 3, layer: { type: 'conv2d', width: 32, kernel: 5, activation: 'swish', pool: 'max', skip: true } });
    const arch = { values: {} };

    const svg = networkSvg(space.network(arch));

    expect(svg).toContain('class="arch arch-chain"');
    // input + 3 × (conv2d + maxpool) + classifier, each a box and a colour strip
    expect(svg.match(/<rect /g)?.length).toBe(2 * 8);
    expect(svg.match(/>conv2d</g)?.length).toBe(3);
    expect(svg.match(/>maxpool</g)?.length).toBe(3);
    expect(svg).toContain('32 filters · 5×5 · swish');
    expect(svg.match(/stroke="#dc2626"/g)?.length).toBe(3); // three skip arcs
  });

  it('labels dense, dropout and batch-norm layers', () => {
    const svg = chainSvg({
      kind: 'chain',
      layers: [{ type: 'dense', width: 128, activation: 'relu', batchNorm: true, dropout: 0.25 }, { type: 'dropout', dropout: 0.5 }, { type: 'batchnorm' }],
      training: DEFAULT_TRAINING,
    });

    expect(svg).toContain('128 units · BN · relu · dropout 0.25');
    expect(svg).toContain('rate 0.5');
    expect(svg).toContain('>batchnorm<');
  });
});

describe('jsonForScript', () => {
  it('round-trips and never contains a raw <', () => {
    const v = { s: '</script><!-- \u2028 \u2029' };
    const out = jsonForScript(v);
    expect(out).not.toContain('<');
    expect(JSON.parse(out)).toEqual(v);
  });
});
