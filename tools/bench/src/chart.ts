/** A dependency-free SVG bar chart: one panel per metric, one bar per system. */
export interface ChartPanel {
  title: string;
  unit: string;
  values: Array<{ label: string; value: number }>;
}

const COLORS = ['#2f7d32', '#1565c0', '#ef6c00', '#6a1b9a', '#c62828', '#00838f'];

export function barChartSvg(title: string, panels: ChartPanel[]): string {
  const panelW = 300;
  const panelH = 240;
  const top = 40;
  const width = panelW * panels.length + 20;
  const height = panelH + top + 70;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((p, pi) => {
    const x0 = 10 + pi * panelW;
    const finite = p.values.map((v) => (Number.isFinite(v.value) ? v.value : 0));
    const max = Math.max(...finite, 1e-9);
    const barW = Math.min(50, (panelW - 40) / Math.max(1, p.values.length) - 10);
    parts.push(`<text x="${x0 + 10}" y="${top + 10}" font-weight="bold">${esc(p.title)} (${esc(p.unit)})</text>`);
    const baseY = top + panelH;
    parts.push(`<line x1="${x0 + 10}" y1="${baseY}" x2="${x0 + panelW - 20}" y2="${baseY}" stroke="#999"/>`);
    p.values.forEach((v, i) => {
      const h = ((finite[i] / max) * (panelH - 50)) | 0;
      const x = x0 + 20 + i * (barW + 10);
      parts.push(`<rect x="${x}" y="${baseY - h}" width="${barW}" height="${h}" fill="${COLORS[i % COLORS.length]}"/>`);
      parts.push(`<text x="${x + barW / 2}" y="${baseY - h - 4}" text-anchor="middle">${esc(Number.isFinite(v.value) ? (v.value >= 100 ? v.value.toFixed(0) : v.value.toFixed(2)) : '—')}</text>`);
      parts.push(`<text x="${x + barW / 2}" y="${baseY + 14}" text-anchor="end" transform="rotate(-30 ${x + barW / 2} ${baseY + 14})">${esc(v.label)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
