import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one exact AwsSolutions-IAM5 finding: the wildcard resource
 * `<LogicalId.Arn><suffix>` of `resource` in the policies under `scope`.
 * Exact findings instead of the whole rule, so a new wildcard elsewhere
 * still fails the synth.
 */
export function acknowledgeIam5(scope: IConstruct, resource: IConstruct, suffix: string, reason: string): void {
  const cfn = resource.node.defaultChild as CfnElement;
  const logicalId = Stack.of(cfn).getLogicalId(cfn);
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>${suffix}]`, reason });
}

/** Acknowledges the AwsSolutions-IAM5 finding for `Resource::*` under `scope`. */
export function acknowledgeStarResource(scope: IConstruct, reason: string): void {
  Validations.of(scope).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason });
}
