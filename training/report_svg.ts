import type { EpochRecord } from "./fit.ts";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const f = (n: number) => (Math.round(n * 10) / 10).toString();

function polyline(points: [number, number][], color: string, dashed = false): string {
  const d = points.map(([x, y]) => `${f(x)},${f(y)}`).join(" ");
  return `<polyline fill="none" stroke="${color}" stroke-width="2"${
    dashed ? ' stroke-dasharray="5 3"' : ""
  } points="${d}"/>`;
}

function curves(
  history: EpochRecord[],
  bestEpoch: number,
  keys: [keyof EpochRecord, string, string][],
  title: string,
  x0: number,
  y0: number,
  w: number,
  h: number,
): string {
  const values = history.flatMap((r) => keys.map(([k]) => r[k])).filter(Number.isFinite);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const n = Math.max(history.length - 1, 1);
  const px = (i: number) => x0 + (i / n) * w;
  const py = (v: number) => y0 + h - ((v - lo) / span) * h;
  const parts = [
    `<text x="${x0}" y="${y0 - 10}" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#ccc"/>`,
    `<text x="${x0 - 6}" y="${y0 + 4}" font-size="10" text-anchor="end">${hi.toFixed(3)}</text>`,
    `<text x="${x0 - 6}" y="${y0 + h}" font-size="10" text-anchor="end">${lo.toFixed(3)}</text>`,
    `<text x="${x0}" y="${y0 + h + 14}" font-size="10">epoch 1</text>`,
    `<text x="${x0 + w}" y="${
      y0 + h + 14
    }" font-size="10" text-anchor="end">epoch ${history.length}</text>`,
  ];
  if (bestEpoch >= 1) {
    const bx = px(bestEpoch - 1);
    parts.push(
      `<line x1="${f(bx)}" y1="${y0}" x2="${f(bx)}" y2="${
        y0 + h
      }" stroke="#888" stroke-dasharray="2 3"/>`,
      `<text x="${f(bx - 3)}" y="${
        y0 + h - 20
      }" font-size="10" fill="#555" text-anchor="end">best epoch ${bestEpoch}</text>`,
    );
  }
  keys.forEach(([key, color, label], k) => {
    const pts = history
      .map((r, i) => [px(i), py(r[key])] as [number, number])
      .filter(([, y]) => Number.isFinite(y));
    parts.push(polyline(pts, color, k % 2 === 1));
    const ly = y0 + 16 + k * 14;
    parts.push(
      `<line x1="${x0 + w - 150}" y1="${ly - 4}" x2="${x0 + w - 125}" y2="${
        ly - 4
      }" stroke="${color}" stroke-width="2"${k % 2 === 1 ? ' stroke-dasharray="5 3"' : ""}/>`,
      `<text x="${x0 + w - 120}" y="${ly}" font-size="11" fill="${color}">${esc(label)}</text>`,
    );
  });
  return parts.join("\n");
}

function heatmap(
  confusion: number[][],
  names: readonly string[],
  x0: number,
  y0: number,
  cell: number,
): string {
  const max = Math.max(...confusion.flat(), 1);
  const parts = [
    `<text x="${x0}" y="${
      y0 - 40
    }" font-size="14" font-weight="bold">Test confusion matrix (rows: true class, columns: predicted class, by index)</text>`,
  ];
  names.forEach((name, i) => {
    parts.push(
      `<text x="${x0 - 6}" y="${y0 + i * cell + cell / 2 + 4}" font-size="11" text-anchor="end">${
        esc(name)
      } ${i}</text>`,
      `<text x="${x0 + i * cell + cell / 2}" y="${
        y0 - 8
      }" font-size="11" text-anchor="middle">${i}</text>`,
    );
  });
  confusion.forEach((row, i) =>
    row.forEach((n, j) => {
      // Square root keeps small off-diagonal counts visible beside the diagonal.
      const t = Math.sqrt(n / max);
      const shade = Math.round(255 - t * 150);
      const fill = i === j ? `rgb(${shade},${shade},255)` : `rgb(255,${shade},${shade})`;
      parts.push(
        `<rect x="${x0 + j * cell}" y="${
          y0 + i * cell
        }" width="${cell}" height="${cell}" fill="${fill}" stroke="#fff"><title>true ${
          esc(names[i])
        }, predicted ${esc(names[j])}: ${n}</title></rect>`,
        `<text x="${x0 + j * cell + cell / 2}" y="${
          y0 + i * cell + cell / 2 + 4
        }" font-size="10" text-anchor="middle" fill="#111">${n}</text>`,
      );
    })
  );
  return parts.join("\n");
}

/**
 * Renders the training report as one SVG: loss and accuracy curves per
 * epoch (training solid, validation dashed) and the test confusion matrix
 * as a heatmap, with the headline figures on top.
 */
export function renderReportSvg(
  history: EpochRecord[],
  bestEpoch: number,
  confusion: number[][],
  names: readonly string[],
  headline: string,
): string {
  const width = 980;
  const height = 900;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="30" font-size="18" font-weight="bold">Fashion-MNIST CNN: training report</text>
<text x="20" y="52" font-size="13">${esc(headline)}</text>
${
    curves(
      history,
      bestEpoch,
      [["loss", "#d62728", "train loss"], ["val_loss", "#ff9896", "validation loss"]],
      "Loss",
      70,
      100,
      380,
      220,
    )
  }
${
    curves(
      history,
      bestEpoch,
      [["accuracy", "#1f77b4", "train accuracy"], [
        "val_accuracy",
        "#6baed6",
        "validation accuracy",
      ]],
      "Accuracy",
      560,
      100,
      380,
      220,
    )
  }
${heatmap(confusion, names, 260, 440, 44)}
</svg>
`;
}
