/** A small line chart as hand-written SVG: enough for latency versus a load parameter, no dependency. */

export interface Series {
  label: string;
  color: string;
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Logarithmic x axis (subscriber counts spanning 100 to 5,000). */
  logX?: boolean;
  /** A horizontal dashed line, e.g. a latency target. */
  threshold?: { y: number; label: string };
}

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { top: 40, right: 150, bottom: 50, left: 70 };

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** 1, 2, 5 x 10^n steps giving about five ticks from 0 to max. */
function niceTicks(max: number): number[] {
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let value = 0; value <= max + step / 2; value += step) ticks.push(value);
  return ticks;
}

const formatTick = (value: number) =>
  value >= 1_000 ? `${value / 1_000}k` : Number.isInteger(value) ? String(value) : value.toFixed(1);

export function lineChartSvg(series: Series[], options: ChartOptions): string {
  const points = series.flatMap((s) => s.points);
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const maxY = Math.max(...points.map((p) => p.y), options.threshold?.y ?? 0) * 1.1 || 1;
  const yTicks = niceTicks(maxY);
  const yTop = yTicks.at(-1) ?? maxY;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const minX = xs[0] ?? 0;
  const maxX = xs.at(-1) ?? 1;
  const scaleX = (x: number) => {
    if (maxX === minX) return MARGIN.left + plotW / 2;
    const t = options.logX
      ? (Math.log10(x) - Math.log10(minX)) / (Math.log10(maxX) - Math.log10(minX))
      : (x - minX) / (maxX - minX);
    return MARGIN.left + t * plotW;
  };
  const scaleY = (y: number) => MARGIN.top + plotH - (y / yTop) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  for (const tick of yTicks) {
    const y = scaleY(tick);
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${y + 4}" text-anchor="end">${formatTick(tick)}</text>`,
    );
  }
  for (const x of xs) {
    const px = scaleX(x);
    out.push(
      `<line x1="${px}" x2="${px}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 5}" stroke="#333"/>`,
      `<text x="${px}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${formatTick(x)}</text>`,
    );
  }
  out.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  if (options.threshold) {
    const y = scaleY(options.threshold.y);
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y}" y2="${y}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${MARGIN.left + plotW + 6}" y="${y + 4}" fill="#c00">${escapeXml(options.threshold.label)}</text>`,
    );
  }
  series.forEach((s, index) => {
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    const path = sorted.map((p) => `${scaleX(p.x).toFixed(1)},${scaleY(p.y).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of sorted) {
      out.push(
        `<circle cx="${scaleX(p.x).toFixed(1)}" cy="${scaleY(p.y).toFixed(1)}" r="3.5" fill="${s.color}"><title>${escapeXml(`${s.label}: ${p.y.toFixed(1)} at ${p.x}`)}</title></circle>`,
      );
    }
    const legendY = MARGIN.top + 10 + index * 18;
    out.push(
      `<line x1="${MARGIN.left + plotW + 10}" x2="${MARGIN.left + plotW + 30}" y1="${legendY}" y2="${legendY}" stroke="${s.color}" stroke-width="2"/>`,
      `<text x="${MARGIN.left + plotW + 36}" y="${legendY + 4}">${escapeXml(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
