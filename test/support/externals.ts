/**
 * Tests that need something npm does not install (Debian's Chromium, the
 * NAS-Bench-201 table beside the repository) skip where it is missing — a
 * developer's machine — and say why. `.ci/run` provides every one of them
 * and sets `NASFLOW_TEST_EXTERNALS=required`: there a missing one fails the
 * test file instead of passing as skipped.
 */
export function skipWithout(missing: string | undefined, what: string): boolean {
  if (missing === undefined) return false;
  if (process.env.NASFLOW_TEST_EXTERNALS === 'required') throw new Error(`${what}: ${missing} — .ci/run provides it, so this test is not skipped there`);
  console.warn(`${what} skipped: ${missing}`);
  return true;
}
