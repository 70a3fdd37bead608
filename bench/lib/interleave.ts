/**
 * Runs one slice of every variant per round, the order rotated each round so drift on a shared machine
 * hits them alike, until `durationS` has passed (a progress line every 5 s on stderr). Returns each
 * variant's slice figures, by index, and the rounds run.
 */
export async function interleave<V, F>(
  variants: readonly V[],
  durationS: number,
  slice: (v: V) => Promise<F>,
): Promise<{ rounds: number; slices: F[][] }> {
  const slices: F[][] = variants.map(() => []);
  const end = Date.now() + durationS * 1000;
  let rounds = 0;
  let lastProgress = Date.now();
  while (Date.now() < end) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + rounds) % variants.length;
      slices[i]!.push(await slice(variants[i]!));
    }
    rounds++;
    if (Date.now() - lastProgress > 5_000) {
      lastProgress = Date.now();
      process.stderr.write(
        `  round ${rounds}, ${Math.max(0, Math.round((end - Date.now()) / 1000))}s left\n`,
      );
    }
  }
  return { rounds, slices };
}

/** The mean of one field over slices (/proc counts CPU in 10 ms ticks: a slice's figure is coarse, their sum is not). */
export function meanOf<F>(xs: readonly F[], pick: (x: F) => number): number {
  return xs.reduce((a, x) => a + pick(x), 0) / Math.max(1, xs.length);
}
