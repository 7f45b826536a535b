import { Duration, IgnoreMode, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV, EXIT_INTERRUPTED, TAGS, TRIAL_ARTIFACTS_PREFIX } from '../../shared/contract.js';
import { jobResources, maxVcpus, type Caps } from '../caps.js';
import { REPO_ROOT } from './functions.js';
import { acknowledgeStarResource } from './nag.js';
import type { ResultsStore } from './results-store.js';

/** Exit code of an interrupted trainer (SIGTERM on spot reclaim; checkpoint written): retried. */
export { EXIT_INTERRUPTED };

/** Attempts of one training job (the first and Batch's retries after spot reclaims). */
export const JOB_ATTEMPTS = 3;

export interface TrainingClusterProps {
  readonly caps: Caps;
  /** The trainer reads and writes `trials/*` of its artifacts bucket. */
  readonly results: ResultsStore;
  /** The trainer image; by default built from `containers/trainer/Dockerfile` at deploy time (synth only stages the files). */
  readonly image?: ecs.ContainerImage;
}

/**
 * GPU training on AWS Batch: a VPC without NAT gateways (public subnets, no
 * inbound rules, free gateway endpoints for S3 and DynamoDB), a managed EC2
 * compute environment of GPU instances (spot by default) whose max vCPUs
 * are `maxGpus` GPUs' worth, a job queue, and the trainer's job definition
 * (1 GPU, a timeout, retries only for spot reclaims and exit 75).
 */
export class TrainingCluster extends Construct {
  readonly vpc: ec2.Vpc;
  readonly computeEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly maxVcpus: number;

  constructor(scope: Construct, id: string, props: TrainingClusterProps) {
    super(scope, id);
    const { caps } = props;
    const stack = Stack.of(this);

    // No NAT gateway (~$33/month each plus data): instances get public IPs in
    // public subnets and accept no inbound traffic; S3 and DynamoDB traffic
    // stays on the free gateway endpoints; ECR pulls and logs go out directly.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: { rejected: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
    const securityGroup = new ec2.SecurityGroup(this, 'Instances', {
      vpc: this.vpc,
      description: 'nasflow training instances: no inbound traffic',
      allowAllOutbound: true,
    });

    this.maxVcpus = maxVcpus(caps);
    this.computeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, 'Gpus', {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [securityGroup],
      instanceTypes: caps.instanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2_NVIDIA }],
      spot: caps.spot,
      allocationStrategy: caps.spot ? batch.AllocationStrategy.SPOT_CAPACITY_OPTIMIZED : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      minvCpus: 0,
      maxvCpus: this.maxVcpus,
      updateToLatestImageVersion: true,
      replaceComputeEnvironment: false,
    });

    // The instances are where the money goes: tag them for cost allocation too
    // (the stack's Tags aspect reaches the compute environment, not what it launches).
    (this.computeEnvironment.node.defaultChild as batch.CfnComputeEnvironment).addPropertyOverride('ComputeResources.Tags', { [TAGS.project.key]: TAGS.project.value, 'nasflow:role': 'training' });

    this.jobQueue = new batch.JobQueue(this, 'Queue', {
      computeEnvironments: [{ computeEnvironment: this.computeEnvironment, order: 1 }],
      priority: 1,
    });

    const res = jobResources(caps);
    const logGroup = new logs.LogGroup(this, 'JobLogs', { retention: logs.RetentionDays.ONE_MONTH });
    const jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'nasflow trainer: reads its trial and writes results under trials/ in the artifacts bucket; reports epochs to the experiment tables',
    });
    props.results.grantArtifactsReadWrite(jobRole, `${TRIAL_ARTIFACTS_PREFIX}*`);
    // Each epoch goes through the epoch step (the trial's curve, the scheduler's decision: median stopping).
    props.results.grantTablesReadWrite(jobRole);

    const image = props.image ?? ecs.ContainerImage.fromAsset(REPO_ROOT, {
      file: 'containers/trainer/Dockerfile',
      // The Dockerfile copies only these from the repository root; everything
      // else stays out of the staged build context (and out of the asset hash).
      exclude: ['*', '!package.json', '!package-lock.json', '!tsconfig.json', '!shared/**', '!containers/**'],
      ignoreMode: IgnoreMode.DOCKER,
    });

    this.jobDefinition = new batch.EcsJobDefinition(this, 'Trainer', {
      container: new batch.EcsEc2ContainerDefinition(this, 'TrainerContainer', {
        image,
        gpu: res.gpus,
        cpu: res.vcpus,
        memory: Size.mebibytes(res.memoryMiB),
        jobRole,
        environment: {
          [ENV.trainerArtifacts]: `s3://${props.results.artifacts.bucketName}`,
          [ENV.trainerBackend]: 'native',
          [ENV.tableExperiments]: props.results.experiments.tableName,
          [ENV.tableTrials]: props.results.trials.tableName,
          AWS_REGION: stack.region,
        },
        logging: ecs.LogDriver.awsLogs({ logGroup, streamPrefix: 'trainer' }),
        readonlyRootFilesystem: false,
      }),
      timeout: Duration.minutes(caps.jobTimeoutMinutes),
      propagateTags: true,
      retryAttempts: JOB_ATTEMPTS,
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: String(EXIT_INTERRUPTED) })),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
      ],
    });

    Validations.of(this.computeEnvironment).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      reason: 'The instance role of ECS container instances in a Batch compute environment: AWS documents this managed policy for it and keeps it current with the ECS agent.',
    });
    acknowledgeStarResource(this.jobDefinition.container.executionRole, 'ecr:GetAuthorizationToken, which the execution role needs to pull the trainer image, has no resource-level permissions.');
  }
}
