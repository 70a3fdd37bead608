/**
 * A tiny SVG line-chart writer for benchmark plots (no dependencies): panels stacked vertically, each with
 * its own y axis and one polyline per series, sharing the x axis. Good enough for docs; not a plotting lib.
 */
export interface Series {
  name: string;
  color: string;
  /** [x, y] points, x ascending. */
  points: Array<[number, number]>;
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  panels: Panel[];
  width?: number;
  panelHeight?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" tick step (1, 2 or 5 x 10^k) giving about `count` ticks over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw || 1));
  const n = raw / pow;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * pow;
}

const fmt = (v: number) =>
  Math.abs(v) >= 1000 ? `${Number((v / 1000).toFixed(1))}k` : String(Number(v.toFixed(2)));

export function lineChartSvg(o: ChartOptions): string {
  const width = o.width ?? 760;
  const ph = o.panelHeight ?? 220;
  const m = { left: 70, right: 170, top: 56, bottom: 40, gap: 56 };
  const height = m.top + o.panels.length * ph + (o.panels.length - 1) * m.gap + m.bottom;
  const all = o.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)));
  const xMin = Math.min(0, ...all);
  const xMax = Math.max(1, ...all);
  const plotW = width - m.left - m.right;
  const sx = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`,
  ];
  o.panels.forEach((panel, i) => {
    const top = m.top + i * (ph + m.gap);
    const ys = panel.series.flatMap((s) => s.points.map(([, y]) => y));
    const yStep = niceStep(Math.max(1, ...ys), 5);
    const yMax = Math.max(yStep, Math.ceil(Math.max(1, ...ys) / yStep) * yStep);
    const sy = (y: number) => top + ph - (y / yMax) * ph;
    out.push(`<text x="${m.left}" y="${top - 8}" font-weight="bold">${esc(panel.title)}</text>`);
    for (let y = 0; y <= yMax + 1e-9; y += yStep) {
      out.push(
        `<line x1="${m.left}" x2="${m.left + plotW}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e5e5"/>`,
        `<text x="${m.left - 6}" y="${sy(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
      );
    }
    const xStep = niceStep(xMax - xMin, 10);
    for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax + 1e-9; x += xStep) {
      out.push(
        `<line x1="${sx(x)}" x2="${sx(x)}" y1="${top}" y2="${top + ph}" stroke="#f0f0f0"/>`,
        `<text x="${sx(x)}" y="${top + ph + 14}" text-anchor="middle">${fmt(x)}</text>`,
      );
    }
    out.push(
      `<rect x="${m.left}" y="${top}" width="${plotW}" height="${ph}" fill="none" stroke="#888"/>`,
      `<text transform="translate(16 ${top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(panel.yLabel)}</text>`,
    );
    panel.series.forEach((s, k) => {
      if (s.points.length > 0) {
        const d = s.points
          .map(([x, y]) => `${sx(x).toFixed(1)},${sy(Math.min(y, yMax)).toFixed(1)}`)
          .join(' ');
        out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${d}"/>`);
      }
      const ly = top + 14 + k * 16;
      out.push(
        `<line x1="${m.left + plotW + 10}" x2="${m.left + plotW + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"/>`,
        `<text x="${m.left + plotW + 32}" y="${ly}">${esc(s.name)}</text>`,
      );
    });
    if (i === o.panels.length - 1)
      out.push(
        `<text x="${m.left + plotW / 2}" y="${top + ph + 32}" text-anchor="middle">${esc(o.xLabel)}</text>`,
      );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
