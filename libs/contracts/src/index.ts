export * from './keys';
export * from './openai/requests.schema';
export * from './openai/responses.schema';
export * from './jobs/inference-job.schema';
export * from './jobs/relay.schema';
export * from './catalogue/model-catalogue.schema';
export * as authV1 from './gen/switchyard/auth/v1/auth';
export * as placementV1 from './gen/switchyard/placement/v1/placement';
export * from './jobs/residency.schema';
