// format/flamegraph: folded lines to a laid-out SVG (frames merged by path,
// widths in counts, names escaped) and the HTML page around it.
import { describe, expect, it } from 'vitest';
import { flameGraph, flameGraphHtml, flameGraphSvg, parseFolded } from '../src/format/flamegraph.js';

const frames = (svg: string) =>
  [...svg.matchAll(/<g class="f" data-x="(\d+)" data-w="(\d+)" data-d="(\d+)"><title>([^<]*)<\/title>/g)].map((m) => ({ x: +m[1]!, w: +m[2]!, d: +m[3]!, title: m[4]! }));

describe('flame graphs', () => {
  it('parses folded lines (names with spaces, the count last) and skips others', () => {
    expect(parseFolded('a;b c;d 12\nnot a line\nx 3\n')).toEqual([
      { frames: ['a', 'b c', 'd'], count: 12 },
      { frames: ['x'], count: 3 },
    ]);
  });

  it('merges stacks by path: each frame as wide as the counts through it, children side by side by name', () => {
    const svg = flameGraphSvg(parseFolded('app;main;b 3\napp;main;a 2\napp;main;a 1\nother;x 4\n'), { unit: 'us' });
    const f = frames(svg);
    expect(f.find((r) => r.d === 0)).toMatchObject({ x: 0, w: 10, title: 'all (10 us, 100.00%)' });
    expect(f.filter((r) => r.d === 1).map((r) => [r.title.split(' ')[0], r.x, r.w])).toEqual([
      ['app', 0, 6],
      ['other', 6, 4],
    ]);
    expect(f.filter((r) => r.d === 3).map((r) => [r.title.split(' ')[0], r.x, r.w])).toEqual([
      ['a', 0, 3],
      ['b', 3, 3],
    ]);
    expect(svg).toContain('data-total="10"');
  });

  it('escapes names, and picks SVG or HTML by the file name', () => {
    const stacks = parseFolded('p;operator<<(std::ostream&, char const*) 1\n');
    const svg = flameGraphSvg(stacks);
    expect(svg).toContain('operator&#60;&#60;(std::ostream&#38;, char const*)');
    expect(svg).not.toContain('operator<<');
    expect(flameGraph('x.SVG', stacks).startsWith('<?xml')).toBe(true);
    const html = flameGraphHtml(stacks, { title: 'T' });
    expect(flameGraph('x.html', stacks)).toBe(flameGraphHtml(stacks));
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<title>T</title>');
  });
});
