#!/usr/bin/env python3
"""Drive the SCM sandbox with the `cert-manager` PyPI package (a client written against the live
Sectigo Certificate Manager), unchanged: list organizations and profiles, enroll, collect.

Usage: cert_manager_client.py BASE_URL CSR_FILE
Prints one JSON object with what it saw; the Rust test `sandbox_python` checks it.
Requires: pip install cert-manager
"""
import json
import sys
import time

from cert_manager import SSL, Client, Organization, PendingError


def main():
    base_url, csr_path = sys.argv[1], sys.argv[2]
    client = Client(base_url=base_url, login_uri="demo", username="demo", password="demo")

    org = Organization(client=client)
    orgs = org.all()
    dept = org.find(org_name="Demo University", dept_name="Demo IT Department")[0]

    ssl = SSL(client=client)
    types = ssl.types  # {"name": {"id", "terms"}}
    profile = "Demo OV Multi-Domain"
    term = types[profile]["terms"][0]

    with open(csr_path, encoding="ascii") as f:
        csr = f.read()
    enrolled = ssl.enroll(
        cert_type_name=profile,
        csr=csr,
        term=term,
        org_id=dept["id"],
        subject_alt_names=["py.example.com", "www.py.example.com"],
        external_requester="ops@example.com",
    )
    ssl_id = enrolled["sslId"]

    pending_seen = 0
    leaf = None
    for _ in range(50):
        try:
            leaf = ssl.collect(ssl_id, "x509CO")
            break
        except PendingError:
            pending_seen += 1
            time.sleep(0.05)
    chain = ssl.collect(ssl_id, "pemia")
    details = ssl.get(ssl_id)
    listed = list(ssl.list(commonName="py.example.com"))
    count = ssl.count(commonName="py.example.com")

    print(json.dumps({
        "orgs": [o["id"] for o in orgs],
        "department": dept["id"],
        "types": {name: t["id"] for name, t in types.items()},
        "term": term,
        "ssl_id": ssl_id,
        "pending_seen": pending_seen,
        "leaf": leaf,
        "chain": chain,
        "status": details["status"],
        "sans": details["subjectAlternativeNames"],
        "listed": [row["sslId"] for row in listed],
        "count": count,
    }))


if __name__ == "__main__":
    main()
