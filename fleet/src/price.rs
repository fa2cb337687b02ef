//! List prices (us-east-1, on-demand, as published on the AWS pricing pages in November
//! 2024 and unchanged since: DynamoDB's on-demand prices were halved on 2024-11-01),
//! free tiers ignored; a month is 30 days.

/// DynamoDB on-demand: dollars per million write request units.
pub const DYNAMODB_WRITE_PER_MILLION: f64 = 0.625;
/// DynamoDB on-demand: dollars per million read request units.
pub const DYNAMODB_READ_PER_MILLION: f64 = 0.125;
/// DynamoDB standard table storage: dollars per GB-month.
pub const DYNAMODB_STORAGE_PER_GB_MONTH: f64 = 0.25;
/// CloudWatch API requests (`PutMetricData`): dollars per 1,000 requests.
pub const CLOUDWATCH_PER_THOUSAND_REQUESTS: f64 = 0.01;
/// CloudWatch Logs ingestion (EMF documents): dollars per GB.
pub const LOGS_INGESTION_PER_GB: f64 = 0.50;
/// Minutes in the month the costs are given for.
pub const MINUTES_PER_MONTH: f64 = 30.0 * 24.0 * 60.0;
/// Bytes in a GB as AWS bills them.
pub const GB: f64 = 1_073_741_824.0;
