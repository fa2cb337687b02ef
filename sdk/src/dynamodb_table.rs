//! Creating a liftwatch DynamoDB table (feature `dynamodb`), written once for every table
//! the crate describes: a String partition key and a Number sort key, on-demand billing,
//! optional global secondary indexes, a wait until the table is active, then TTL on one
//! attribute. `stats::create_table` and `connections::create_table` give it their layout.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};

/// How long table creation waits for the new table to become active.
const ACTIVE_WITHIN: Duration = Duration::from_secs(300);

/// Why a table could not be created and set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum TableError {
    /// A DynamoDB request failed (e.g. `ResourceInUseException`: the table exists).
    Dynamo {
        /// The DynamoDB operation, e.g. `CreateTable`.
        operation: &'static str,
        /// What DynamoDB (or the transport) answered.
        source: Box<aws_sdk_dynamodb::Error>,
    },
    /// A request could not be built (a required field was missing).
    Build(BuildError),
    /// The table was created but was not seen active in time.
    NotActive {
        /// The table.
        table: String,
        /// What the wait ended with.
        source: Box<dyn Error + Send + Sync>,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Dynamo { operation, .. } => write!(f, "dynamodb {operation} failed"),
            TableError::Build(_) => f.write_str("could not build a dynamodb request"),
            TableError::NotActive { table, .. } => write!(f, "table {table} did not become active"),
        }
    }
}

impl Error for TableError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            TableError::Dynamo { source, .. } => Some(source.as_ref()),
            TableError::Build(source) => Some(source),
            TableError::NotActive { source, .. } => Some(source.as_ref()),
        }
    }
}

/// A table's layout: what differs between liftwatch's tables.
pub(crate) struct Layout<'a> {
    /// The partition key attribute (String).
    pub partition_key: &'a str,
    /// The sort key attribute (Number).
    pub sort_key: &'a str,
    /// The other attributes the indexes use as keys, with their types.
    pub index_attributes: &'a [(&'a str, ScalarAttributeType)],
    /// The global secondary indexes (build them with [`key`]).
    pub indexes: Vec<GlobalSecondaryIndex>,
    /// The TTL attribute (Number, Unix seconds).
    pub ttl_attribute: &'a str,
}

/// Creates `table` with `layout`, waits until it is active and turns TTL on.
pub(crate) async fn create(
    client: &Client,
    table: &str,
    layout: Layout<'_>,
) -> Result<(), TableError> {
    let keys = [
        (layout.partition_key, ScalarAttributeType::S),
        (layout.sort_key, ScalarAttributeType::N),
    ];
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(layout.partition_key, KeyType::Hash)?)
        .key_schema(key(layout.sort_key, KeyType::Range)?)
        .set_global_secondary_indexes(Some(layout.indexes).filter(|i| !i.is_empty()));
    for (name, kind) in keys.iter().chain(layout.index_attributes) {
        let definition = AttributeDefinition::builder()
            .attribute_name(*name)
            .attribute_type(kind.clone())
            .build()
            .map_err(TableError::Build)?;
        request = request.attribute_definitions(definition);
    }
    request.send().await.map_err(|e| dynamo("CreateTable", e))?;
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(ACTIVE_WITHIN)
        .await
        .map_err(|e| TableError::NotActive {
            table: table.to_owned(),
            source: Box::new(e),
        })?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(layout.ttl_attribute)
        .enabled(true)
        .build()
        .map_err(TableError::Build)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| dynamo("UpdateTimeToLive", e))?;
    Ok(())
}

/// One key schema element: `name` as the `kind` key.
pub(crate) fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, TableError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(TableError::Build)
}

fn dynamo<E>(operation: &'static str, error: E) -> TableError
where
    aws_sdk_dynamodb::Error: From<E>,
{
    TableError::Dynamo {
        operation,
        source: Box::new(aws_sdk_dynamodb::Error::from(error)),
    }
}
