/**
 * Pictures of networks as standalone inline SVG: the NAS-Bench-201 cell as
 * a four-node DAG with one labelled edge per operation, and a chain as a
 * column of layer boxes with its residual connections drawn beside it.
 */
import type { CellNetwork, CellOp, ChainLayer, ChainNetwork, Network } from '../space/network.js';
import { CELL_EDGES } from '../space/network.js';
import { escapeHtml } from './format.js';

/** Colour per cell operation; `none` edges are drawn faint and dashed (no information flows). */
const OP_STYLE: Record<CellOp, { readonly colour: string; readonly label: string }> = {
  none: { colour: '#c4c9d0', label: 'none' },
  skip_connect: { colour: '#6b7280', label: 'skip' },
  nor_conv_1x1: { colour: '#2563eb', label: 'conv 1×1' },
  nor_conv_3x3: { colour: '#7c3aed', label: 'conv 3×3' },
  avg_pool_3x3: { colour: '#059669', label: 'avg pool 3×3' },
};

const LAYER_COLOUR: Record<ChainLayer['type'], string> = {
  conv2d: '#7c3aed',
  sepconv2d: '#2563eb',
  dense: '#d97706',
  maxpool: '#059669',
  avgpool: '#059669',
  batchnorm: '#6b7280',
  dropout: '#6b7280',
};

/** An SVG picture of a network (cell DAG or layer chain). `title` becomes the SVG's accessible name. */
export function networkSvg(net: Network, title?: string): string {
  return net.kind === 'cell' ? cellSvg(net, title) : chainSvg(net, title);
}

function svgOpen(width: number, height: number, title: string | undefined, kind: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="arch arch-${kind}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img"` +
    ` font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">` +
    (title !== undefined ? `<title>${escapeHtml(title)}</title>` : '')
  );
}

/**
 * The cell: nodes 0…3 in a row; edges between neighbours are straight, the
 * two edges that skip one node arc above and below, and 0→3 arcs high above,
 * so no two edges cross and every label has room.
 */
export function cellSvg(net: CellNetwork, title?: string): string {
  const W = 460;
  const H = 252;
  const y0 = 150;
  const xs = [40, 160, 300, 420];
  const r = 17;
  const parts: string[] = [svgOpen(W, H, title, 'cell')];
  parts.push(
    '<defs>' +
      Object.entries(OP_STYLE)
        .map(([op, s]) => `<marker id="arrow-${op}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${s.colour}"/></marker>`)
        .join('') +
      '</defs>',
  );
  // Where each curved edge peaks (offset from the row; negative is above). Straight edges: 0.
  const bend: Record<string, number> = { '1<-0': 0, '2<-1': 0, '3<-2': 0, '2<-0': -55, '3<-1': 55, '3<-0': -105 };
  const labels: string[] = [];
  CELL_EDGES.forEach((edge, i) => {
    const op = (net.ops[i] ?? 'none') as CellOp;
    const style = OP_STYLE[op] ?? OP_STYLE.none;
    const [to, from] = edge.split('<-').map(Number) as [number, number];
    const x1 = xs[from] as number;
    const x2 = xs[to] as number;
    const b = bend[edge] ?? 0;
    const dash = op === 'none' ? ' stroke-dasharray="5 4"' : '';
    const width = op === 'none' ? 1.5 : 2.5;
    let lx: number;
    let ly: number;
    if (b === 0) {
      parts.push(`<line x1="${x1 + r}" y1="${y0}" x2="${x2 - r - 2}" y2="${y0}" stroke="${style.colour}" stroke-width="${width}"${dash} marker-end="url(#arrow-${op})"/>`);
      lx = (x1 + x2) / 2;
      ly = y0 - 8;
    } else {
      // A quadratic curve peaking at y0 + b: the apex of a quadratic Bézier is halfway between its ends and its control point.
      const sy = y0 + (b < 0 ? -r + 3 : r - 3);
      const apex = y0 + b;
      const cy = 2 * apex - sy;
      const sx = x1 + 8;
      const ex = x2 - 8;
      parts.push(`<path d="M${sx},${sy} Q${(x1 + x2) / 2},${cy} ${ex},${sy}" fill="none" stroke="${style.colour}" stroke-width="${width}"${dash} marker-end="url(#arrow-${op})"/>`);
      lx = (x1 + x2) / 2;
      ly = b < 0 ? apex - 6 : apex + 16;
    }
    const text = escapeHtml(style.label);
    labels.push(
      `<text x="${lx}" y="${ly}" text-anchor="middle" font-size="12.5" fill="${style.colour}" font-weight="${op === 'none' ? 400 : 600}"` +
        ` paint-order="stroke" stroke="#fff" stroke-width="4" stroke-linejoin="round">${text}</text>`,
    );
  });
  parts.push(...labels);
  xs.forEach((x, i) => {
    parts.push(`<circle cx="${x}" cy="${y0}" r="${r}" fill="#fff" stroke="#111827" stroke-width="2"/>`);
    parts.push(`<text x="${x}" y="${y0 + 5}" text-anchor="middle" font-size="14" font-weight="700" fill="#111827">${i}</text>`);
  });
  const caption = `cell × ${net.cellsPerStage} per stage · ${net.stages} stages · ${net.channels} channels`;
  parts.push(`<text x="${W / 2}" y="${H - 10}" text-anchor="middle" font-size="12" fill="#4b5563">${escapeHtml(caption)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

function layerLabel(l: ChainLayer): { title: string; detail: string } {
  const detail: string[] = [];
  switch (l.type) {
    case 'dense':
      detail.push(`${l.width ?? '?'} units`);
      break;
    case 'conv2d':
    case 'sepconv2d':
      detail.push(`${l.width ?? '?'} filters`, `${l.kernel ?? '?'}×${l.kernel ?? '?'}`);
      if (l.stride !== undefined && l.stride !== 1) detail.push(`stride ${l.stride}`);
      break;
    case 'maxpool':
    case 'avgpool':
      detail.push(`${l.kernel ?? '?'}×${l.kernel ?? '?'}`, `stride ${l.stride ?? l.kernel ?? '?'}`);
      break;
    case 'dropout':
      detail.push(`rate ${l.dropout ?? '?'}`);
      break;
    case 'batchnorm':
      break;
  }
  if (l.batchNorm) detail.push('BN');
  if (l.activation !== undefined && l.activation !== 'linear') detail.push(l.activation);
  if (l.type !== 'dropout' && l.dropout) detail.push(`dropout ${l.dropout}`);
  return { title: l.type, detail: detail.join(' · ') };
}

/** The chain: input, one box per layer, the classifier; residual connections as arcs on the right. */
export function chainSvg(net: ChainNetwork, title?: string): string {
  const W = 310;
  const boxW = 220;
  const boxH = 38;
  const gap = 16;
  const x0 = 20;
  const rows: { title: string; detail: string; colour: string; skip: boolean }[] = [
    { title: 'input', detail: '', colour: '#111827', skip: false },
    ...net.layers.map((l) => ({ ...layerLabel(l), colour: LAYER_COLOUR[l.type] ?? '#111827', skip: l.skip === true })),
    { title: 'classifier', detail: 'global pool / flatten · softmax', colour: '#111827', skip: false },
  ];
  const H = 20 + rows.length * (boxH + gap) - gap + 30;
  const top = (i: number): number => 14 + i * (boxH + gap);
  const parts: string[] = [svgOpen(W, H, title, 'chain')];
  parts.push('<defs><marker id="chain-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9ca3af"/></marker></defs>');
  rows.forEach((row, i) => {
    const y = top(i);
    if (i > 0) parts.push(`<line x1="${x0 + boxW / 2}" y1="${y - gap + 1}" x2="${x0 + boxW / 2}" y2="${y - 2}" stroke="#9ca3af" stroke-width="1.5" marker-end="url(#chain-arrow)"/>`);
    const io = i === 0 || i === rows.length - 1;
    parts.push(
      `<rect x="${x0}" y="${y}" width="${boxW}" height="${boxH}" rx="7" fill="${io ? '#f3f4f6' : '#fff'}" stroke="${row.colour}" stroke-width="${io ? 1.2 : 2}"/>` +
        `<rect x="${x0}" y="${y}" width="6" height="${boxH}" rx="3" fill="${row.colour}"/>`,
    );
    const hasDetail = row.detail !== '';
    parts.push(`<text x="${x0 + 16}" y="${y + (hasDetail ? 16 : 24)}" font-size="13" font-weight="700" fill="${row.colour}">${escapeHtml(row.title)}</text>`);
    if (hasDetail) parts.push(`<text x="${x0 + 16}" y="${y + 31}" font-size="11.5" fill="#374151">${escapeHtml(row.detail)}</text>`);
    if (row.skip) {
      // A residual arc from this layer's input (the gap above its box) to its output (the gap below).
      const ya = top(i) - gap / 2;
      const yb = top(i) + boxH + gap / 2;
      const xr = x0 + boxW;
      parts.push(`<path d="M${xr - 24},${ya} C${xr + 36},${ya} ${xr + 36},${yb} ${xr - 20},${yb}" fill="none" stroke="#dc2626" stroke-width="1.8" marker-end="url(#chain-arrow)"/>`);
      parts.push(`<text x="${xr + 32}" y="${y + boxH / 2 + 4}" font-size="11" fill="#dc2626">skip</text>`);
    }
  });
  const t = net.training;
  parts.push(`<text x="${x0}" y="${H - 10}" font-size="11.5" fill="#4b5563">${escapeHtml(`${t.optimizer} · lr ${Number(t.learningRate.toPrecision(3))} · batch ${t.batchSize}`)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}
