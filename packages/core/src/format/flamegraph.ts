// Flame graphs from folded stacks (`comm;outer;...;inner count` lines, the
// -f output of profile and offcputime): one self-contained file, SVG or an
// HTML page holding that SVG, with no network and no library. Frames are
// laid out here; the embedded script only moves them: click a frame to zoom
// into it (click the bottom bar, or Escape, to reset), "Search" (or Ctrl-F)
// highlights the frames matching a regular expression and says what share
// of the samples they hold.

/** One folded stack: frames outermost first, and its weight (samples, microseconds). */
export interface FoldedStack {
  frames: readonly string[];
  count: number;
}

export interface FlameGraphOptions {
  title?: string;
  /** What a count is: "samples" (default), "us". */
  unit?: string;
  /** Width of the image in pixels (default 1200). */
  width?: number;
}

interface Node {
  name: string;
  total: number;
  children: Map<string, Node>;
}

/** Parses folded lines (`a;b;c 12`); lines that do not end in a count are skipped. */
export function parseFolded(text: string): FoldedStack[] {
  const out: FoldedStack[] = [];
  for (const line of text.split('\n')) {
    const m = /^(.*\S)\s+(\d+)$/.exec(line);
    if (m) out.push({ frames: m[1]!.split(';'), count: Number(m[2]) });
  }
  return out;
}

const xml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Warm colours from the name (as flamegraph.pl): the same function, the same colour.
function colour(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `rgb(${205 + (h % 50)},${(h >> 8) % 230},${(h >> 16) % 55})`;
}

const FRAME_H = 16;
const PAD_TOP = 36;

/** The flame graph as a standalone SVG document. */
export function flameGraphSvg(stacks: readonly FoldedStack[], opts: FlameGraphOptions = {}): string {
  const width = opts.width ?? 1200;
  const unit = opts.unit ?? 'samples';
  const root: Node = { name: 'all', total: 0, children: new Map() };
  for (const s of stacks) {
    if (!(s.count > 0)) continue;
    root.total += s.count;
    let n = root;
    for (const f of s.frames) {
      let c = n.children.get(f);
      if (!c) n.children.set(f, (c = { name: f, total: 0, children: new Map() }));
      c.total += s.count;
      n = c;
    }
  }
  // Depth-first, children by name (as flamegraph.pl): x and width in counts.
  const rects: string[] = [];
  let depthMax = 0;
  const walk = (n: Node, x: number, depth: number): void => {
    depthMax = Math.max(depthMax, depth);
    const pct = root.total ? ((100 * n.total) / root.total).toFixed(2) : '0';
    const title = `${n.name} (${n.total} ${unit}, ${pct}%)`;
    rects.push(`<g class="f" data-x="${x}" data-w="${n.total}" data-d="${depth}"><title>${xml(title)}</title><rect height="${FRAME_H - 1}" fill="${colour(n.name)}" rx="2"/><text>${xml(n.name)}</text></g>`);
    let cx = x;
    for (const c of [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      walk(c, cx, depth + 1);
      cx += c.total;
    }
  };
  walk(root, 0, 0);
  const height = PAD_TOP + (depthMax + 1) * FRAME_H + 24;
  const title = xml(opts.title ?? 'Flame Graph');
  return `<?xml version="1.0" standalone="no"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-total="${root.total}" data-unit="${xml(unit)}" font-family="Verdana,sans-serif" font-size="12">
<style>.f{cursor:pointer}.f text{pointer-events:none;fill:#000}.f:hover rect{stroke:#000;stroke-width:.5}#matched,#details{font-size:12px}</style>
<rect width="100%" height="100%" fill="#f8f8f8"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="16">${title}</text>
<text id="search" x="${width - 10}" y="20" text-anchor="end" style="cursor:pointer">Search</text>
<text id="reset" x="10" y="20" style="cursor:pointer;display:none">Reset Zoom</text>
<text id="details" x="10" y="${height - 8}"> </text><text id="matched" x="${width - 10}" y="${height - 8}" text-anchor="end"> </text>
<g id="frames">${rects.join('\n')}</g>
<script><![CDATA[${SCRIPT.replace('%H%', String(height)).replace('%W%', String(width))}]]></script>
</svg>
`;
}

/** The flame graph in an HTML page (the SVG inline: the browser's own find works too). */
export function flameGraphHtml(stacks: readonly FoldedStack[], opts: FlameGraphOptions = {}): string {
  const svg = flameGraphSvg(stacks, opts).replace(/^<\?xml[^>]*>\n/, '');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${xml(opts.title ?? 'Flame Graph')}</title>
<style>body{margin:0;background:#f8f8f8}svg{display:block;width:100%;height:auto}</style></head>
<body>
${svg}</body></html>
`;
}

/** SVG or HTML by the file's extension (.svg, else HTML). */
export function flameGraph(file: string, stacks: readonly FoldedStack[], opts: FlameGraphOptions = {}): string {
  return /\.svg$/i.test(file) ? flameGraphSvg(stacks, opts) : flameGraphHtml(stacks, opts);
}

// Lays the frames out for a zoom on one frame (x0..x0+w0 in counts, from
// depth d0 up): its ancestors span the width, what lies outside is hidden.
const SCRIPT = `
(function(){
var svg=document.querySelector('svg[data-total]'),H=%H%,W=%W%,P=10,total=+svg.getAttribute('data-total'),unit=svg.getAttribute('data-unit');
var fs=[].slice.call(svg.querySelectorAll('g.f')),det=svg.getElementById?svg.getElementById('details'):document.getElementById('details');
function $(id){return svg.querySelector('#'+id);}
function label(g,w){var t=g.querySelector('text'),n=g.getAttribute('data-n');if(n===null){n=t.textContent;g.setAttribute('data-n',n);}
 var c=Math.floor((w-6)/7);t.textContent=c<3?'':n.length<=c?n:n.slice(0,c-2)+'..';}
function zoom(x0,w0,d0){var s=(W-2*P)/w0;fs.forEach(function(g){var x=+g.getAttribute('data-x'),w=+g.getAttribute('data-w'),d=+g.getAttribute('data-d');
 var r=g.querySelector('rect'),t=g.querySelector('text'),y=H-24-(d+1)*16;
 var inside=x>=x0&&x+w<=x0+w0,above=d<d0&&x<=x0&&x+w>=x0+w0;
 if(!inside&&!above){g.style.display='none';return;}g.style.display='';
 var px=above?P:P+(x-x0)*s,pw=above?W-2*P:w*s;r.setAttribute('x',px);r.setAttribute('y',y);r.setAttribute('width',Math.max(pw,0.1));
 t.setAttribute('x',px+3);t.setAttribute('y',y+11);label(g,pw);});
 $('reset').style.display=w0<total?'':'none';}
fs.forEach(function(g){g.addEventListener('click',function(){var d=+g.getAttribute('data-d');if(d===0)zoom(0,total,0);else zoom(+g.getAttribute('data-x'),+g.getAttribute('data-w'),d);});
 g.addEventListener('mouseover',function(){$('details').textContent=g.querySelector('title').textContent;});});
$('reset').addEventListener('click',function(){zoom(0,total,0);});
function search(re){var sum=0,cov=[];fs.forEach(function(g){var r=g.querySelector('rect');if(!r.getAttribute('data-fill'))r.setAttribute('data-fill',r.getAttribute('fill'));
 var hit=re&&re.test(g.getAttribute('data-n'));r.setAttribute('fill',hit?'rgb(230,0,230)':r.getAttribute('data-fill'));
 if(hit){var x=+g.getAttribute('data-x'),w=+g.getAttribute('data-w');if(!cov.some(function(c){return x>=c[0]&&x+w<=c[1];})){cov.push([x,x+w]);sum+=w;}}});
 $('matched').textContent=re?'Matched: '+(100*sum/total).toFixed(1)+'% ('+sum+' '+unit+')':' ';return sum;}
$('search').addEventListener('click',function(){var t=prompt('Search (regular expression):','');if(t===null)return;try{search(t?new RegExp(t):null);}catch(e){$('matched').textContent='bad regexp';}});
window.addEventListener('keydown',function(e){if((e.ctrlKey||e.metaKey)&&e.key==='f'&&!document.querySelector('html body')){e.preventDefault();$('search').dispatchEvent(new Event('click'));}if(e.key==='Escape')zoom(0,total,0);});
window.flamegraph={zoom:zoom,search:function(t){return search(t?new RegExp(t):null);}};
zoom(0,total,0);
var q=/[?&]s=([^&]*)/.exec(location.search||'');if(q)search(new RegExp(decodeURIComponent(q[1])));
})();
`;
