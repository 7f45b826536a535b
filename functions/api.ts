/** Lambda handler `api` (docs/design/aws-contract.md). Being written; this placeholder lets the stack synthesize. */
export const handler = async (_event: unknown): Promise<never> => {
  throw new Error('functions/api: not implemented yet');
};
