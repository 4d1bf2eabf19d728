#!/bin/sh
# certbot against acme-sectigo-bridge with External Account Binding (kid and HMAC from `eab create`).
# Register once; later runs (and `certbot renew`) reuse the account.
certbot register --server https://acme.example.edu/directory \
  --eab-kid "kid-REPLACE-ME" --eab-hmac-key "HMAC-REPLACE-ME" \
  -m webmaster@example.edu --agree-tos --non-interactive

# http-01 with certbot's own web server (port 80 must reach this host), or --webroot/--nginx/--apache.
certbot certonly --server https://acme.example.edu/directory --standalone \
  -d www.example.edu -d example.edu --non-interactive
