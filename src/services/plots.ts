/** Small self-contained SVG charts for model cards: no fonts or scripts to fetch, text escaped. */

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Predicted vs target scatter with the y = x line, equal axes, MAE in the title. */
export function parityPlotSvg(opts: { targets: readonly number[]; predictions: readonly number[]; unit: string; title: string }): string {
  const { targets, predictions } = opts;
  const W = 480, H = 480, L = 70, R = 20, T = 50, B = 60;
  const all = [...targets, ...predictions].filter(Number.isFinite);
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.05;
  lo -= pad; hi += pad;
  const sx = (v: number) => L + ((v - lo) / (hi - lo)) * (W - L - R);
  const sy = (v: number) => H - B - ((v - lo) / (hi - lo)) * (H - T - B);
  const n = Math.min(targets.length, predictions.length);
  let mae = 0;
  for (let i = 0; i < n; i++) mae += Math.abs(predictions[i] - targets[i]);
  mae = n ? mae / n : NaN;
  const unit = opts.unit ? ` (${esc(opts.unit)})` : '';
  const ticks = niceTicks(lo, hi);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(opts.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">n = ${n}, MAE = ${Number.isFinite(mae) ? fmt(mae) : '–'}${unit}</text>`,
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`,
    `<line x1="${sx(lo)}" y1="${sy(lo)}" x2="${sx(hi)}" y2="${sy(hi)}" stroke="#c33" stroke-dasharray="4 3"/>`,
  ];
  for (const t of ticks) {
    parts.push(`<line x1="${sx(t).toFixed(1)}" y1="${H - B}" x2="${sx(t).toFixed(1)}" y2="${H - B + 5}" stroke="#999"/>`);
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${fmt(t)}</text>`);
    parts.push(`<line x1="${L - 5}" y1="${sy(t).toFixed(1)}" x2="${L}" y2="${sy(t).toFixed(1)}" stroke="#999"/>`);
    parts.push(`<text x="${L - 8}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 15}" text-anchor="middle">target${unit}</text>`);
  parts.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">predicted${unit}</text>`);
  parts.push('<g fill="#1f6fb2" fill-opacity="0.6">');
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(targets[i]) && Number.isFinite(predictions[i])) parts.push(`<circle cx="${sx(targets[i]).toFixed(1)}" cy="${sy(predictions[i]).toFixed(1)}" r="3"/>`);
  }
  parts.push('</g></svg>');
  return parts.join('\n');
}

/** Horizontal bars: the learned weight of each expert, largest first. */
export function gatesPlotSvg(opts: { experts: readonly { key: string; weight: number }[]; title: string }): string {
  const rows = [...opts.experts].sort((a, b) => b.weight - a.weight);
  const W = 560, rowH = 22, T = 50, L = 190, R = 60;
  const H = T + rows.length * rowH + 30;
  const max = Math.max(1e-12, ...rows.map((r) => r.weight));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(opts.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">learned gate weight per expert (softmax over the selected top-k)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = T + i * rowH;
    const w = ((W - L - R) * Math.max(0, r.weight)) / max;
    parts.push(`<text x="${L - 8}" y="${y + 15}" text-anchor="end">${esc(r.key)}</text>`);
    parts.push(`<rect x="${L}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${r.weight > 0 ? '#1f6fb2' : '#ccc'}"/>`);
    parts.push(`<text x="${(L + w + 6).toFixed(1)}" y="${y + 15}">${r.weight.toFixed(3)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
