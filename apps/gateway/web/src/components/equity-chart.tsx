import type { EquityPoint } from '../api';
import { fmtNum } from '../format';

const W = 720;
const H = 220;
const PAD = { l: 56, r: 12, t: 12, b: 24 };
/** More points than pixels only costs: the curve is thinned to about two points per pixel column. */
const MAX_POINTS = 1500;

function toMs(t: number | string, i: number): number {
  if (typeof t === 'number') return t;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? i : ms;
}

/** The equity curve of a backtest as an inline SVG (no chart library, nothing from a CDN). */
export function EquityChart({ points }: { points: readonly EquityPoint[] }) {
  if (points.length < 2) return <p class="state state-empty">Not enough points for a curve.</p>;
  const stride = Math.ceil(points.length / MAX_POINTS);
  const pts = points.filter((_, i) => i % stride === 0 || i === points.length - 1);
  const xs = pts.map((p, i) => toMs(p.t, i));
  const ys = pts.map((p) => p.equity);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (y0 === y1) {
    y0 -= 1;
    y1 += 1;
  }
  const sx = (x: number): number => PAD.l + ((x - x0) / (x1 - x0 || 1)) * (W - PAD.l - PAD.r);
  const sy = (y: number): number => PAD.t + (1 - (y - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);
  const d = pts
    .map((_, i) => `${i === 0 ? 'M' : 'L'}${sx(xs[i] ?? 0).toFixed(1)},${sy(ys[i] ?? 0).toFixed(1)}`)
    .join('');
  const area = `${d}L${sx(x1).toFixed(1)},${H - PAD.b}L${sx(x0).toFixed(1)},${H - PAD.b}Z`;
  const ticks = [y0, (y0 + y1) / 2, y1];
  const first = ys[0] ?? 0;
  const last = ys[ys.length - 1] ?? 0;
  const dateLabel = (ms: number): string => (ms > 1e11 ? new Date(ms).toISOString().slice(0, 10) : String(ms));
  return (
    <figure class="chart" data-testid="equity-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Equity from ${fmtNum(first, 2)} to ${fmtNum(last, 2)}`}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={PAD.l} x2={W - PAD.r} y1={sy(t)} y2={sy(t)} class="grid" />
            <text x={PAD.l - 6} y={sy(t) + 4} text-anchor="end" class="axis">
              {fmtNum(t, 0)}
            </text>
          </g>
        ))}
        <path d={area} class={last >= first ? 'area up' : 'area down'} />
        <path d={d} class={last >= first ? 'line up' : 'line down'} />
        <text x={PAD.l} y={H - 6} class="axis">
          {dateLabel(x0)}
        </text>
        <text x={W - PAD.r} y={H - 6} text-anchor="end" class="axis">
          {dateLabel(x1)}
        </text>
      </svg>
      <figcaption>
        Equity {fmtNum(first, 2)} → {fmtNum(last, 2)} ({pts.length.toLocaleString('en-US')} of{' '}
        {points.length.toLocaleString('en-US')} points drawn)
      </figcaption>
    </figure>
  );
}
