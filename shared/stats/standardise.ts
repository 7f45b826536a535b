/** In place: subtract the mean and divide by the (population) standard deviation; a constant series becomes all zeros. */
export function standardise(y: Float64Array): void {
  const n = y.length;
  let mean = 0;
  for (const v of y) mean += v;
  mean /= n;
  let sd = 0;
  for (const v of y) sd += (v - mean) ** 2;
  sd = Math.sqrt(sd / n) || 1;
  for (let i = 0; i < n; i++) y[i] = ((y[i] as number) - mean) / sd;
}
