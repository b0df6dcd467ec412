const CHART_WIDTH = 800;
const CHART_HEIGHT = 400;

const MARGIN = { top: 40, right: 20, bottom: 50, left: 80 };
const PLOT_WIDTH = CHART_WIDTH - MARGIN.left - MARGIN.right;
const PLOT_HEIGHT = CHART_HEIGHT - MARGIN.top - MARGIN.bottom;
const GREY_TICKS = [0, 32, 64, 96, 128, 160, 192, 224, 255];
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

/** A step of 1, 2 or 5 times a power of ten giving about four ticks up to `max`. */
function countStep(max: number): number {
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((multiple) => multiple * power).find((candidate) => candidate >= rough)!;
  // Counts are whole, so a chart of a few pixels needs no fractional ticks.
  return Math.max(1, step);
}

/** An SVG bar chart of a 256-bin grey-level histogram, for sharp to render; `title` is plain text without markup. */
export function histogramChartSvg(bins: readonly number[], title: string): string {
  const highest = Math.max(1, ...bins);
  const step = countStep(highest);
  const top = Math.ceil(highest / step) * step;
  const x = (level: number) => MARGIN.left + (level / bins.length) * PLOT_WIDTH;
  const y = (count: number) => MARGIN.top + PLOT_HEIGHT - (count / top) * PLOT_HEIGHT;
  const baseline = y(0);
  const barWidth = PLOT_WIDTH / bins.length;

  // One path for all bars keeps the document small and quick to rasterise.
  const bars = bins
    .map((count, level) =>
      count > 0 ? `M${x(level).toFixed(2)} ${baseline}V${y(count).toFixed(2)}h${barWidth.toFixed(3)}V${baseline}z` : '',
    )
    .join('');

  const greyTicks = GREY_TICKS.map((level) => {
    const at = (x(level) + barWidth / 2).toFixed(1);
    return `<line x1="${at}" y1="${baseline}" x2="${at}" y2="${baseline + 5}" stroke="#333"/>
<text x="${at}" y="${baseline + 18}" text-anchor="middle">${level}</text>`;
  });
  const countTicks: string[] = [];
  for (let count = 0; count <= top; count += step) {
    const at = y(count).toFixed(1);
    const colour = count === 0 ? '#333' : '#ddd';
    countTicks.push(`<line x1="${MARGIN.left - 5}" y1="${at}" x2="${CHART_WIDTH - MARGIN.right}" y2="${at}" stroke="${colour}"/>
<text x="${MARGIN.left - 8}" y="${at}" dy="4" text-anchor="end">${count.toLocaleString('en-US')}</text>`);
  }

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}">
<rect width="100%" height="100%" fill="#fff"/>
<g ${FONT} font-size="12" fill="#333">
${countTicks.join('\n')}
<path d="${bars}" fill="#4a6fa5"/>
<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${baseline}" stroke="#333"/>
${greyTicks.join('\n')}
<text x="${MARGIN.left + PLOT_WIDTH / 2}" y="${CHART_HEIGHT - 10}" text-anchor="middle" font-size="14">grey level</text>
<text transform="translate(18 ${MARGIN.top + PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle" font-size="14">pixels</text>
<text x="${CHART_WIDTH / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${title}</text>
</g>
</svg>`;
}
