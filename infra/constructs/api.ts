import { Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Largest request body the `api` handler accepts (API Gateway's own fixed limit is 10 MB; a spec is a few KB). */
export const MAX_BODY_BYTES = 256 * 1024;

export interface ExperimentsApiProps {
  readonly handler: lambda.IFunction;
  /** Steady-state requests per second over the whole stage. @default 10 */
  readonly rateLimit?: number;
  /** Burst over the whole stage. @default 20 */
  readonly burstLimit?: number;
  /** Requests per second to `POST /experiments` (each may start GPU work). @default 1 */
  readonly submitRateLimit?: number;
}

/**
 * The REST API: every method requires IAM (SigV4) authorization and goes to
 * the `api` function (proxy integration): the five routes of the issue plus
 * `GET /experiments/{id}/{proxy+}` for the router's read-only detail routes. API Gateway validates what it can
 * before the function runs: the submit body must be a JSON object, `{id}`
 * must be present, `limit`/`cursor` are declared. Throttled per stage and
 * per method; access logs as JSON.
 */
export class ExperimentsApi extends Construct {
  readonly api: apigw.RestApi;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ExperimentsApiProps) {
    super(scope, id);
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.THREE_MONTHS });

    this.api = new apigw.RestApi(this, 'Api', {
      description: 'nasflow: submit and watch neural architecture searches',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // Model downloads (model.tar.gz, weights.bin) come back base64-encoded from the function.
      binaryMediaTypes: ['application/gzip', 'application/octet-stream'],
      cloudWatchRole: true,
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      deployOptions: {
        stageName: 'v1',
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
        throttlingRateLimit: props.rateLimit ?? 10,
        throttlingBurstLimit: props.burstLimit ?? 20,
        methodOptions: {
          '/experiments/POST': { throttlingRateLimit: props.submitRateLimit ?? 1, throttlingBurstLimit: 5 },
        },
      },
    });

    const validator = this.api.addRequestValidator('Validator', { validateRequestBody: true, validateRequestParameters: true });
    const specBody = this.api.addModel('SubmitBody', {
      contentType: 'application/json',
      modelName: 'SubmitBody',
      description: 'a spec as a JSON object (the api function checks its fields and size)',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, type: apigw.JsonSchemaType.OBJECT, minProperties: 1 },
    });
    const integration = new apigw.LambdaIntegration(props.handler, { proxy: true });

    const experiments = this.api.root.addResource('experiments');
    experiments.addMethod('POST', integration, {
      requestValidator: validator,
      requestModels: { 'application/json': specBody },
    });
    experiments.addMethod('GET', integration, {
      requestValidator: validator,
      requestParameters: { 'method.request.querystring.limit': false, 'method.request.querystring.cursor': false },
    });
    const experiment = experiments.addResource('{id}');
    experiment.addMethod('GET', integration, {
      requestValidator: validator,
      requestParameters: { 'method.request.path.id': true, 'method.request.querystring.top': false },
    });
    experiment.addResource('trials').addMethod('GET', integration, {
      requestValidator: validator,
      requestParameters: {
        'method.request.path.id': true,
        'method.request.querystring.limit': false,
        'method.request.querystring.cursor': false,
        'method.request.querystring.state': false,
      },
    });
    // The router's read-only detail routes (one trial, charts, curves, architecture
    // picture, model files) under one greedy resource; static siblings win.
    experiment.addResource('{proxy+}').addMethod('GET', integration, {
      requestValidator: validator,
      requestParameters: { 'method.request.path.id': true, 'method.request.path.proxy': true },
    });
    experiment.addResource('stop').addMethod('POST', integration, {
      requestValidator: validator,
      requestParameters: { 'method.request.path.id': true },
    });

    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-APIG3',
        reason: 'Every method requires IAM (SigV4) authorization and the stage is throttled; a WAF web ACL (from $5/month plus rules) buys nothing more for a few signed callers. Attach one if the API is ever opened wider.',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'The account-level role API Gateway needs to write execution logs; AWS documents this managed policy for it.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason: 'The API is authorized with IAM (SigV4), not a Cognito user pool: callers are IAM principals of the account.',
      },
    );
  }
}
