//! Verification keys: HMAC secrets, RSA and EC public keys from PEM, each checked once
//! when the verifier is built and tagged with the one algorithm family it may serve.
//!
//! Every key is turned into a `jsonwebtoken` [`DecodingKey`] of its own family, so a key
//! loaded as an RSA public key can never be fed to HMAC (the RS→HS confusion attack).
//! Verification goes through jsonwebtoken's RustCrypto provider directly rather than the
//! process-wide default, so it cannot hit that crate's panic when cargo's feature
//! unification turns on a second crypto backend.

use std::fmt;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;

use super::alg::{Algorithm, Family};
use super::error::ConfigError;

/// The shortest HMAC secret accepted: 32 bytes, the HS256 hash size (RFC 7518 §3.2 asks
/// for a key at least as long as the hash; use 48 or 64 bytes for HS384 or HS512).
///
/// ```
/// assert_eq!(liftwatch::jwt::MIN_SECRET_BYTES, 32);
/// ```
pub const MIN_SECRET_BYTES: usize = 32;

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus the RustCrypto backend verifies with, in bits.
const MAX_RSA_BITS: usize = 4096;
/// The largest public exponent the RustCrypto backend accepts (2^33 - 1).
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// One verification key, ready to use.
#[derive(Clone)]
pub(crate) struct Key {
    /// The key id a token must name to select it; `None` serves tokens with any `kid`.
    pub(crate) kid: Option<String>,
    pub(crate) family: Family,
    /// Set when the key is bound to one algorithm (a JWK's `alg`).
    pub(crate) only: Option<Algorithm>,
    pub(crate) decoding: DecodingKey,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("only", &self.only)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// Whether this key may verify a token signed with `alg`.
    pub(crate) fn serves(&self, alg: Algorithm) -> bool {
        self.family == alg.family() && self.only.is_none_or(|only| only == alg)
    }

    /// Whether the signature over `message` verifies under this key. Any failure inside
    /// the crypto provider counts as "does not verify".
    pub(crate) fn verifies(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        let Ok(verifier) =
            (DEFAULT_PROVIDER.verifier_factory)(&alg.to_jsonwebtoken(), &self.decoding)
        else {
            return false;
        };
        verifier.verify(message, &signature.to_vec()).is_ok()
    }
}

/// An HMAC secret of at least [`MIN_SECRET_BYTES`].
pub(crate) fn hmac(position: usize, secret: &[u8]) -> Result<Key, ConfigError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::WeakSecret { key: position });
    }
    Ok(Key {
        kid: None,
        family: Family::Hmac,
        only: None,
        decoding: DecodingKey::from_secret(secret),
    })
}

/// An RSA public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`), at least 2048 bits.
pub(crate) fn rsa_pem(position: usize, pem: &[u8]) -> Result<Key, ConfigError> {
    refuse_private(position, pem)?;
    let bad = |reason| ConfigError::BadKey {
        key: position,
        reason,
    };
    let der = DecodingKey::from_rsa_pem(pem).map_err(|_| bad("not an rsa public key pem"))?;
    let der = der
        .try_get_as_bytes()
        .map_err(|_| bad("not an rsa public key pem"))?;
    let (n, e) = (DEFAULT_PROVIDER
        .key_utils
        .rsa_pub_components_from_public_key)(der)
    .map_err(|_| bad("not an rsa public key pem"))?;
    rsa_components(position, &n, &e, None, None)
}

/// An RSA public key from its big-endian modulus and exponent.
pub(crate) fn rsa_components(
    position: usize,
    n: &[u8],
    e: &[u8],
    kid: Option<String>,
    only: Option<Algorithm>,
) -> Result<Key, ConfigError> {
    let bad = |reason| ConfigError::BadKey {
        key: position,
        reason,
    };
    let bits = modulus_bits(n);
    if bits < MIN_RSA_BITS {
        return Err(bad("rsa key is shorter than 2048 bits"));
    }
    if bits > MAX_RSA_BITS {
        return Err(bad("rsa key is longer than 4096 bits"));
    }
    if !(3..=MAX_RSA_EXPONENT).contains(&exponent(e)) {
        return Err(bad("rsa exponent is out of range"));
    }
    checked(
        position,
        Key {
            kid,
            family: Family::Rsa,
            only,
            decoding: DecodingKey::from_rsa_raw_components(n, e),
        },
        "rsa key is not usable",
    )
}

/// An EC P-256 public key in PEM (`PUBLIC KEY`).
pub(crate) fn ec_pem(position: usize, pem: &[u8]) -> Result<Key, ConfigError> {
    refuse_private(position, pem)?;
    let decoding = DecodingKey::from_ec_pem(pem).map_err(|_| ConfigError::BadKey {
        key: position,
        reason: "not an ec public key pem",
    })?;
    checked(
        position,
        Key {
            kid: None,
            family: Family::EcP256,
            only: None,
            decoding,
        },
        "ec key is not a p-256 public key",
    )
}

/// An EC P-256 public key from its 32-byte big-endian `x` and `y` coordinates (a JWK).
pub(crate) fn ec_coordinates(
    position: usize,
    x: &[u8],
    y: &[u8],
    kid: Option<String>,
    only: Option<Algorithm>,
) -> Result<Key, ConfigError> {
    const REASON: &str = "ec key is not a p-256 public key";
    if x.len() != 32 || y.len() != 32 {
        return Err(ConfigError::BadKey {
            key: position,
            reason: REASON,
        });
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    let decoding = DecodingKey::from_ec_der(&point);
    checked(
        position,
        Key {
            kid,
            family: Family::EcP256,
            only,
            decoding,
        },
        REASON,
    )
}

/// A private key where a public one belongs is a configuration mistake worth naming
/// (and a leak waiting to happen): refuse it rather than fail every signature later.
fn refuse_private(position: usize, pem: &[u8]) -> Result<(), ConfigError> {
    let marker = b"PRIVATE KEY-----";
    if pem.windows(marker.len()).any(|w| w == marker) {
        return Err(ConfigError::BadKey {
            key: position,
            reason: "a private key was given; configure the public key",
        });
    }
    Ok(())
}

/// Builds the provider's verifier once, so a key it cannot parse fails at build time.
fn checked(position: usize, key: Key, reason: &'static str) -> Result<Key, ConfigError> {
    let alg = match key.family {
        Family::Hmac => Algorithm::HS256,
        Family::Rsa => Algorithm::RS256,
        Family::EcP256 => Algorithm::ES256,
    };
    match (DEFAULT_PROVIDER.verifier_factory)(&alg.to_jsonwebtoken(), &key.decoding) {
        Ok(_) => Ok(key),
        Err(_) => Err(ConfigError::BadKey {
            key: position,
            reason,
        }),
    }
}

/// Bits in a big-endian unsigned integer, ignoring leading zero bytes.
fn modulus_bits(n: &[u8]) -> usize {
    let Some(first) = n.iter().position(|&b| b != 0) else {
        return 0;
    };
    let bytes = n.len() - first;
    let top = n.get(first).copied().unwrap_or(0);
    bytes * 8 - top.leading_zeros() as usize
}

/// A big-endian exponent as a number; `u64::MAX` when it does not fit (out of range).
fn exponent(e: &[u8]) -> u64 {
    let digits = e.iter().skip_while(|&&b| b == 0);
    if digits.clone().count() > 8 {
        return u64::MAX;
    }
    digits.fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn modulus_bits_ignores_leading_zeros() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[0, 1]), 1);
        assert_eq!(modulus_bits(&[0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0, 0x7f, 0xff]), 15);
    }

    #[test]
    fn exponent_reads_big_endian() {
        assert_eq!(exponent(&[1, 0, 1]), 65537);
        assert_eq!(exponent(&[0, 0, 3]), 3);
        assert_eq!(exponent(&[]), 0);
        assert_eq!(exponent(&[1; 9]), u64::MAX);
    }

    #[test]
    fn short_and_garbage_keys_are_refused() {
        assert_eq!(
            hmac(3, b"tiny").unwrap_err(),
            ConfigError::WeakSecret { key: 3 }
        );
        assert!(hmac(0, &[7; 32]).is_ok());
        assert!(matches!(
            rsa_pem(1, b"garbage"),
            Err(ConfigError::BadKey { key: 1, .. })
        ));
        assert!(matches!(
            ec_pem(2, b""),
            Err(ConfigError::BadKey { key: 2, .. })
        ));
        let small = rsa_components(0, &[0xff; 128], &[1, 0, 1], None, None);
        assert!(matches!(small, Err(ConfigError::BadKey { .. })));
        let huge = rsa_components(0, &[0xff; 1024], &[1, 0, 1], None, None);
        assert!(matches!(huge, Err(ConfigError::BadKey { .. })));
        let tiny_exponent = rsa_components(0, &[0xff; 256], &[1], None, None);
        assert!(matches!(tiny_exponent, Err(ConfigError::BadKey { .. })));
        assert!(rsa_components(0, &[0xff; 256], &[1, 0, 1], None, None).is_ok());
        assert!(matches!(
            ec_coordinates(0, &[0], &[0], None, None),
            Err(ConfigError::BadKey { .. })
        ));
        // 32-byte coordinates that are not a point on the curve.
        let off_curve = ec_coordinates(0, &[1; 32], &[2; 32], None, None);
        assert!(matches!(off_curve, Err(ConfigError::BadKey { .. })));
    }

    #[test]
    fn private_pem_is_named() {
        let pem = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = rsa_pem(0, pem).unwrap_err();
        assert_eq!(
            err,
            ConfigError::BadKey {
                key: 0,
                reason: "a private key was given; configure the public key"
            }
        );
    }
}
