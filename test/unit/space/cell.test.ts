import { describe, expect, it } from 'vitest';
import { cellClasses, cellExpression, fromArchStr, toArchStr } from '../../../shared/space/cell.js';
import { CELL_OPS } from '../../../shared/space/network.js';
import { Space } from '../../../shared/space/space.js';

const OPT = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|';

describe('cell arch_str', () => {
  it('round-trips the benchmark format', () => {
    const ops = fromArchStr(OPT);
    expect(ops).toEqual(['nor_conv_3x3', 'nor_conv_3x3', 'nor_conv_3x3', 'skip_connect', 'nor_conv_3x3', 'nor_conv_1x1']);
    expect(toArchStr(ops)).toBe(OPT);
  });

  it('rejects malformed strings with the reason', () => {
    expect(() => fromArchStr('|a~0|+|b~0|')).toThrow(/3 node groups/);
    expect(() => fromArchStr('|nor_conv_3x3~1|+|none~0|none~1|+|none~0|none~1|none~2|')).toThrow(/OP~0/);
    expect(() => fromArchStr(OPT.replace('nor_conv_1x1', 'conv9x9'), CELL_OPS)).toThrow(/unknown op "conv9x9"/);
  });
});

describe('cell isomorphism', () => {
  const space = Space.fromSpec({ kind: 'cell' });
  const h = (s: string) => space.hash(space.fromArchStr(s));

  it('merges edges cut off by none', () => {
    // Node 2 never reaches the output (3<-2 is none), so its input ops do not matter.
    const a = '|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|';
    const b = '|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|';
    expect(h(a)).toBe(h(b));
    // Node 1 gets nothing (1<-0 none), so the conv reading from it is dead too.
    const c = '|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|';
    const d = '|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|';
    expect(h(c)).toBe(h(d));
  });

  it('merges interchangeable intermediate nodes', () => {
    const a = '|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|skip_connect~2|';
    const b = '|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|';
    expect(h(a)).toBe(h(b));
  });

  it('keeps different networks apart', () => {
    expect(h(OPT)).not.toBe(h(OPT.replace('nor_conv_1x1~2', 'nor_conv_3x3~2')));
    // One shared conv feeding two consumers is not two convs.
    const shared = '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|';
    const separate = '|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|';
    expect(cellExpression(fromArchStr(shared)).split(' | ')[0]).toBe(cellExpression(fromArchStr(separate)).split(' | ')[0]);
    expect(h(shared)).not.toBe(h(separate));
  });

  it('maps every cell that reaches nothing to one network', () => {
    expect(cellExpression(fromArchStr('|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|none~2|'))).toBe('0');
    expect(h('|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|none~2|')).toBe(h('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'));
  });

  it('counts 5,425 distinct networks among the 15,625 cells', () => {
    const c = cellClasses(CELL_OPS);
    expect(c.classes).toBe(5425);
    expect(space.size()).toBe(5425);
    expect([...space.enumerate()]).toHaveLength(5425);
  });

  it('represents a class by one of its members, stably', () => {
    const a = space.fromArchStr('|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|');
    // Of the members with the most `none` edges, the one first in enumeration order.
    expect(space.archStr(a)).toBe('|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|');
    expect(h('|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|')).toBe(space.hash(a));
    expect(space.archStr(space.fromArchStr(OPT))).toBe(OPT);
  });

  it('keeps isomorphic cells apart when asked to (isomorphism: distinct)', () => {
    const distinct = Space.fromSpec({ kind: 'cell', isomorphism: 'distinct' });
    const a = '|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|';
    const b = '|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|';
    expect(distinct.hash(distinct.fromArchStr(a))).not.toBe(distinct.hash(distinct.fromArchStr(b)));
    expect(distinct.archStr(distinct.fromArchStr(a))).toBe(a);
    expect(distinct.size()).toBe(15625);
    expect(() => Space.fromSpec({ kind: 'cell', isomorphism: 'fold' })).toThrow(/space.isomorphism: expected "merge" or "distinct"/);
  });
});
