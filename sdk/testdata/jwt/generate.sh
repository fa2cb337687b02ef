#!/usr/bin/env bash
# Regenerates the JWT test keys and jwks.json in this folder. Run once; the outputs are
# committed so the tests never need openssl. Keys are for tests only.
set -euo pipefail
umask 022
cd "$(dirname "$0")"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa_private.pem
openssl pkey -in rsa_private.pem -pubout -out rsa_public.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa_other_private.pem
openssl pkey -in rsa_other_private.pem -pubout -out rsa_other_public.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec_private.pem
openssl pkey -in ec_private.pem -pubout -out ec_public.pem
python3 - <<'PY'
import base64, json, re, subprocess

def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

def rsa_jwk(pem: str, kid: str) -> dict:
    out = subprocess.run(["openssl", "rsa", "-pubin", "-in", pem, "-noout", "-modulus"],
                         check=True, capture_output=True, text=True).stdout
    modulus = bytes.fromhex(re.sub(r"^Modulus=", "", out.strip()))
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": b64url(modulus), "e": b64url((65537).to_bytes(3, "big"))}

def ec_jwk(pem: str, kid: str) -> dict:
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pem, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    point = der[-65:]
    assert point[0] == 4
    return {"kty": "EC", "use": "sig", "crv": "P-256", "kid": kid,
            "x": b64url(point[1:33]), "y": b64url(point[33:])}

keys = [
    rsa_jwk("rsa_public.pem", "rsa-1"),
    rsa_jwk("rsa_other_public.pem", "rsa-2"),
    ec_jwk("ec_public.pem", "ec-1"),
    # Entries a verifier must skip without failing the document: an encryption key and
    # a key type it does not support.
    dict(rsa_jwk("rsa_other_public.pem", "enc-1"), use="enc", alg="RSA-OAEP"),
    {"kty": "OKP", "crv": "X25519", "kid": "x-1", "x": b64url(bytes(32))},
]
with open("jwks.json", "w") as f:
    json.dump({"keys": keys}, f, indent=2)
    f.write("\n")
PY
