#!/usr/bin/env python3
"""Drive the SCM sandbox with the `comodo-rest-api` PyPI package (a client written against the live
Sectigo Certificate Manager), unchanged: enroll, collect until issued, collect the chain, and try
a revocation the way that package does it.

The package decodes a collected file with the charset of its Content-Type
(`result.content.decode(result.encoding)`), so it only works against a server that answers
`application/octet-stream;charset=UTF-8` as SCM does.

Usage: comodo_rest_api_client.py BASE_URL CSR_FILE
Prints one JSON object with what it saw; the Rust test `sandbox_python` checks it.
Requires: pip install comodo-rest-api
"""
import json
import sys
import time

try:
    import jsend
    from comodo_rest_api import ComodoTLSService
except ImportError as e:
    sys.exit(
        f"comodo-rest-api is not installed ({e}): run `python3 -m pip install comodo-rest-api` "
        "(or scripts/install-test-deps.sh)"
    )


def main():
    base_url, csr_path = sys.argv[1], sys.argv[2]
    # The package appends `types`, `enroll`, `collect/...` to api_url as given.
    service = ComodoTLSService(
        api_url=base_url.rstrip("/") + "/ssl/v1/",
        customer_login_uri="demo",
        login="demo",
        password="demo",
        org_id=1002,
    )
    with open(csr_path, encoding="ascii") as f:
        csr = f.read()

    submitted = service.submit(
        cert_type_name="Demo OV Multi-Domain",
        csr=csr,
        term=90,
        subject_alt_names="comodo.example.com,www.comodo.example.com",
    )
    if not jsend.is_success(submitted):
        sys.exit(f"enroll failed: {submitted}")
    ssl_id = submitted["data"]["certificate_id"]

    pending_seen = 0
    leaf = None
    for _ in range(50):
        collected = service.collect(ssl_id, "x509CO")
        if jsend.is_success(collected):
            leaf = collected["data"]["certificate"]
            break
        if collected["data"].get("certificate_status") != "pending":
            sys.exit(f"collect failed: {collected}")
        pending_seen += 1
        time.sleep(0.05)
    if leaf is None:
        sys.exit("the certificate never became collectable")

    chain = service.collect(ssl_id, "x509")
    if not jsend.is_success(chain):
        sys.exit(f"collecting the chain failed: {chain}")

    # The package sends no reasonCode; SCM refuses that since mid-2025, and so must the sandbox.
    revoked = service.revoke(ssl_id, reason="test")

    print(json.dumps({
        "ssl_id": ssl_id,
        "pending_seen": pending_seen,
        "leaf": leaf,
        "chain": chain["data"]["certificate"],
        "revoke": revoked,
    }))


if __name__ == "__main__":
    main()
