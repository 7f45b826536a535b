/** Lambda handler `finalize` (docs/design/aws-contract.md). Being written; this placeholder lets the stack synthesize. */
export const handler = async (_event: unknown): Promise<never> => {
  throw new Error('functions/finalize: not implemented yet');
};
