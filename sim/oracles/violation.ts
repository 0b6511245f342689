/** What every checker reports: which invariant, where in the run, and what was seen. */
export interface Violation {
  readonly invariant: string;
  readonly step: number;
  readonly simulatedMs: number;
  readonly message: string;
}
