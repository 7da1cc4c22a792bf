#!/usr/bin/env bash
# The 群租 story of the brief with curl, against `make demo` (http://127.0.0.1:8000).
# Every command here is quoted in the README; tests/stories/ replays the same story with a moved clock.
set -euo pipefail
API=${API:-http://127.0.0.1:8000/api/v1}
login() { curl -sf -X POST "$API/auth/login" -H 'Content-Type: application/json' \
            -d "{\"username\":\"$1\",\"password\":\"jiesu12345\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])'; }
OP=$(login operator); DISP=$(login dispatcher); STREET=$(login guanyinsi); CB=$(login callback)

# 1. The operator takes the call (the Idempotency-Key makes a retry safe).
NUMBER=$(curl -sf -X POST "$API/requests" -H "Authorization: Bearer $OP" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: call-$(date +%s%N)" \
  -d '{"text":"首座御园二里5号楼有群租房，人员混杂，存在安全隐患","request_type":"report",
       "address":"大兴区首座御园二里5号楼","area_code":"110115009000",
       "contact_name":"王先生","contact_phone":"13800000000"}' \
  | python3 -c 'import sys,json; print(json.load(sys.stdin)["ticket"]["number"])')
echo "ticket $NUMBER"

step() { # step TOKEN ACTION JSON
  curl -sf -X POST "$API/tickets/$NUMBER/$2" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "${3:-{\}}" | python3 -c 'import sys,json; t=json.load(sys.stdin); print(t["number"], t["state"], t["state_label"])'
}
# 2. The dispatcher sends it straight to the street; 3. the street signs and whistles three departments in.
step "$DISP" dispatch '{"unit":"110115009000"}'
step "$STREET" sign
step "$STREET" whistle '{"units":["ga-110115","cgzf-110115","zj-110115"],"reason":"群租联合执法"}'
# 4. Each summoned department reports for duty and reports its part (their handlers log in the same way).
for dept in ga-110115 cgzf-110115 zj-110115; do
  TOKEN=$(login "h-$dept")
  step "$TOKEN" summons-sign
  step "$TOKEN" summons-report '{"text":"已到场联合执法"}'
done
# 5. The street replies; 6. the callback agent closes it as resolved and satisfied.
step "$STREET" reply '{"text":"联合执法已清理群租，房东已整改"}'
step "$CB" close '{"resolved":true,"satisfied":"satisfied","reason":"市民表示已解决，满意"}'
# The whole timeline:
curl -sf "$API/tickets/$NUMBER" -H "Authorization: Bearer $DISP" | python3 -c '
import sys, json
t = json.load(sys.stdin)
for e in t["timeline"]:
    print(e["seq"], e["at"], e["actor"], e["action_label"], e["to_state"], e["reason"])'
