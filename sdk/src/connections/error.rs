//! The connection store's error type: what failed (a DynamoDB call, a stored item that does
//! not have the expected shape, transactions that kept conflicting) with the cause kept as
//! the `source`.

use std::error::Error;
use std::fmt;

use aws_sdk_dynamodb::error::BuildError;

use crate::dynamodb_table::TableError;

/// Why a [`ConnectionStore`](super::ConnectionStore) call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A DynamoDB request failed; the source is the service error (match on it, e.g.
    /// `ResourceNotFoundException` for a missing table).
    Dynamo {
        /// The DynamoDB operation, e.g. `TransactWriteItems`.
        operation: &'static str,
        /// What DynamoDB (or the transport) answered.
        source: Box<aws_sdk_dynamodb::Error>,
    },
    /// A request could not be built (a required field was missing).
    Build(BuildError),
    /// Table creation stopped at `step`.
    Setup {
        /// What was being done.
        step: &'static str,
        /// Why it stopped.
        source: Box<dyn Error + Send + Sync>,
    },
    /// A stored item lacks an attribute or has it with the wrong type.
    Malformed {
        /// The item's partition key.
        key: String,
        /// The attribute at fault.
        attribute: &'static str,
    },
    /// The transaction kept conflicting with concurrent ones (or the counter kept changing
    /// under `reconcile`) for `attempts` tries.
    Contended {
        /// The store operation.
        operation: &'static str,
        /// How many times it was tried.
        attempts: u32,
    },
    /// A connection id must not be empty.
    EmptyConnectionId,
    /// The connection's `expires_at` has already passed, so saving it would count a
    /// connection no read returns.
    AlreadyExpired,
}

impl StoreError {
    pub(crate) fn dynamo<E>(operation: &'static str, error: E) -> Self
    where
        aws_sdk_dynamodb::Error: From<E>,
    {
        StoreError::Dynamo {
            operation,
            source: Box::new(aws_sdk_dynamodb::Error::from(error)),
        }
    }

    pub(crate) fn build(error: BuildError) -> Self {
        StoreError::Build(error)
    }

    pub(crate) fn malformed(key: &str, attribute: &'static str) -> Self {
        StoreError::Malformed {
            key: key.to_owned(),
            attribute,
        }
    }
}

/// Table creation's errors as the store reports them (the same messages and sources).
impl From<TableError> for StoreError {
    fn from(error: TableError) -> Self {
        match error {
            TableError::Dynamo { operation, source } => StoreError::Dynamo { operation, source },
            TableError::Build(error) => StoreError::Build(error),
            TableError::NotActive { source, .. } => StoreError::Setup {
                step: "waiting for the table to become active",
                source,
            },
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Dynamo { operation, .. } => write!(f, "dynamodb {operation} failed"),
            StoreError::Build(_) => f.write_str("could not build a dynamodb request"),
            StoreError::Setup { step, .. } => write!(f, "table setup failed while {step}"),
            StoreError::Malformed { key, attribute } => {
                write!(f, "item {key} has no valid `{attribute}` attribute")
            }
            StoreError::Contended {
                operation,
                attempts,
            } => write!(f, "{operation} kept conflicting after {attempts} attempts"),
            StoreError::EmptyConnectionId => f.write_str("the connection id is empty"),
            StoreError::AlreadyExpired => f.write_str("the connection has already expired"),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Dynamo { source, .. } => Some(source.as_ref()),
            StoreError::Build(source) => Some(source),
            StoreError::Setup { source, .. } => Some(source.as_ref()),
            StoreError::Malformed { .. }
            | StoreError::Contended { .. }
            | StoreError::EmptyConnectionId
            | StoreError::AlreadyExpired => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_keep_the_cause_as_source() {
        let malformed = StoreError::malformed("conn#a", "created_at");
        assert_eq!(
            malformed.to_string(),
            "item conn#a has no valid `created_at` attribute"
        );
        assert!(malformed.source().is_none());
        let contended = StoreError::Contended {
            operation: "save",
            attempts: 8,
        };
        assert_eq!(
            contended.to_string(),
            "save kept conflicting after 8 attempts"
        );
    }
}
