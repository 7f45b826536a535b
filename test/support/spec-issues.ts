import { SpecError } from '../../shared/errors.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';

/** What parsing a spec refuses, as `path: message` lines; empty when the spec is accepted. */
export function specIssues(raw: unknown): string[] {
  try {
    parseExperimentSpec(raw);
  } catch (e) {
    if (e instanceof SpecError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}
