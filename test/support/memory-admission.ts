/**
 * An in-memory `AdmissionLedger` for the unit tests of the steps, which run
 * over the memory store: the same versioned record as the DynamoDB ledger
 * (`shared/aws/admission.ts`, tested against dynalite in `test/functions/admission.test.ts`).
 */
import type { Admitted, AdmissionLedger, AdmissionSnapshot } from '../../shared/steps/caps.js';

export class MemoryAdmissionLedger implements AdmissionLedger {
  private snapshot: AdmissionSnapshot = { version: 0, admitted: {}, releasedDollars: {} };

  async read(): Promise<AdmissionSnapshot> {
    return structuredClone(this.snapshot);
  }

  async tryAdmit(version: number, experimentId: string, admitted: Admitted): Promise<boolean> {
    if (version !== this.snapshot.version) return false;
    this.snapshot = { ...this.snapshot, version: version + 1, admitted: { ...this.snapshot.admitted, [experimentId]: admitted } };
    return true;
  }

  async release(experimentId: string, dollars: number): Promise<void> {
    const held = this.snapshot.admitted[experimentId];
    if (held === undefined) return;
    const admitted = { ...this.snapshot.admitted };
    delete admitted[experimentId];
    const releasedDollars = { ...this.snapshot.releasedDollars, [held.month]: (this.snapshot.releasedDollars[held.month] ?? 0) + dollars };
    this.snapshot = { version: this.snapshot.version + 1, admitted, releasedDollars };
  }
}
