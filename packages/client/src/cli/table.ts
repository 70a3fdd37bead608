/**
 * A plain-text table for people: a header row, columns padded to their widest cell (two spaces apart), the
 * last column left unpadded. Cells are single-line (whitespace runs become one space). Scripts use the
 * commands' --json output instead.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = (c: string) => c.replace(/\s+/g, ' ').trim();
  const all = [header.map(clean), ...rows.map((r) => r.map(clean))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** 134256 -> "134,256". */
export const formatCount = (n: number): string => n.toLocaleString('en-US');
