#!/usr/bin/env bash
# Prints a fresh deploy/.env for compose: database passwords, the JWT secret, the
# phone-hash key and one Ed25519 key pair per signing identity (X-1). Keep the output
# secret; run once per deployment (rotation: see deploy/README.md).
#   bash deploy/compose/keys.sh > deploy/.env
# MEMBERHUB names the memberhub binary to run `keygen` with (default: the image).
set -euo pipefail
memberhub=${MEMBERHUB:-docker run --rm --entrypoint /usr/local/bin/memberhub ${MEMBERHUB_IMAGE:-memberhub:latest}}
secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

trusted=()
for identity in gateway coupon-svc campaign-svc; do
  out=$($memberhub keygen "$identity")
  seed=$(sed -n 's/^MEMBERHUB_INTERNAL_SIGNING_KEY=//p' <<<"$out")
  public=$(sed -n 's/^MEMBERHUB_INTERNAL_TRUSTED_KEYS entry: //p' <<<"$out")
  var=$(tr 'a-z-' 'A-Z_' <<<"${identity%-svc}")_SIGNING_KEY
  echo "$var=$seed"
  trusted+=("$public")
done
echo "MEMBERHUB_INTERNAL_TRUSTED_KEYS=$(IFS=,; echo "${trusted[*]}")"
echo "MEMBERHUB_JWT_SECRET=$(secret)"
echo "MEMBERHUB_PHONE_HASH_KEY=$(secret)"
echo "POSTGRES_PASSWORD=$(secret)"
echo "MEMBERSHIP_DB_PASSWORD=$(secret)"
echo "COUPON_DB_PASSWORD=$(secret)"
echo "CAMPAIGN_DB_PASSWORD=$(secret)"
