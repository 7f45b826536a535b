import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS } from '../../shared/contract.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from './functions.js';

/** The gauge the functions publish: dollars spent this calendar month over all experiments. */
export const SPEND_METRIC = METRICS.monthToDateSpend;
/** Dollars of one settled trial, published by `record` for every trial. */
export const TRIAL_SPEND_METRIC = METRICS.trialDollars;

export interface SearchAlarmsProps {
  readonly stateMachine: sfn.IStateMachine;
  readonly deadLetterQueue: sqs.IQueue;
  readonly monthlyBudgetDollars: number;
  /** Address subscribed to the alarm topic. */
  readonly email?: string;
}

/**
 * Alarms on an SNS topic: a failed, timed-out or aborted search execution, a
 * message in the dead-letter queue, month-to-date spend at 80 % and at 100 %
 * of the monthly budget, and a tenth of it spent within a day.
 */
export class SearchAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: SearchAlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'nasflow alarms', enforceSSL: true });
    this.topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.topic.topicArn],
      // Only alarms of this account (no confused deputy).
      conditions: {
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
      },
    }));
    if (props.email !== undefined) {
      new sns.Subscription(this, 'Email', { topic: this.topic, protocol: sns.SubscriptionProtocol.EMAIL, endpoint: props.email });
    }
    const action = new actions.SnsAction(this.topic);
    const add = (alarmId: string, alarmProps: cloudwatch.AlarmProps): void => {
      const alarm = new cloudwatch.Alarm(this, alarmId, alarmProps);
      alarm.addAlarmAction(action);
      this.alarms.push(alarm);
    };

    const failed = new cloudwatch.MathExpression({
      expression: 'failed + timedOut + aborted',
      usingMetrics: {
        failed: props.stateMachine.metricFailed({ statistic: 'Sum', period: Duration.minutes(5) }),
        timedOut: props.stateMachine.metricTimedOut({ statistic: 'Sum', period: Duration.minutes(5) }),
        aborted: props.stateMachine.metricAborted({ statistic: 'Sum', period: Duration.minutes(5) }),
      },
      label: 'search executions failed, timed out or aborted',
      period: Duration.minutes(5),
    });
    add('FailedExecutions', {
      alarmDescription: 'A search execution failed, timed out or was aborted: its experiment may be stuck RUNNING.',
      metric: failed,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    add('DeadLetters', {
      alarmDescription: 'An experiment message is in the dead-letter queue: it could never start (see its reason attribute).',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(5) }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const spend = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: SPEND_METRIC,
      dimensionsMap: { service: SERVICE_NAME },
      statistic: 'Maximum',
      period: Duration.hours(1),
    });
    for (const [alarmId, fraction] of [['BudgetWarning', 0.8], ['BudgetReached', 1]] as const) {
      add(alarmId, {
        alarmDescription: `Month-to-date spend reached ${fraction * 100} % of the monthly budget ($${props.monthlyBudgetDollars}).`,
        metric: spend,
        threshold: Math.round(props.monthlyBudgetDollars * fraction * 100) / 100,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    // Spend rate from the per-trial metric: a tenth of the monthly budget within one day.
    add('DailySpend', {
      alarmDescription: `More than 10 % of the monthly budget ($${props.monthlyBudgetDollars}) was spent on trials within 24 hours.`,
      metric: new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: TRIAL_SPEND_METRIC, dimensionsMap: { service: SERVICE_NAME }, statistic: 'Sum', period: Duration.days(1) }),
      threshold: Math.round(props.monthlyBudgetDollars * 10) / 100,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
