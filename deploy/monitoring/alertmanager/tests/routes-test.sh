#!/usr/bin/env bash
# Routing tests: each line is "expected receiver | labels of an alert". `amtool config routes test
# --verify.receivers` exits non-zero when the alert reaches other receivers; every failing case is listed.
set -euo pipefail
AMTOOL=${1:-amtool}
CONFIG=${2:-deploy/monitoring/alertmanager/alertmanager.yml}
failures=0
while IFS='|' read -r expected labels; do
  [[ -z "${expected// }" || "$expected" == \#* ]] && continue
  # shellcheck disable=SC2086 # labels are separate words on purpose
  if ! got=$("$AMTOOL" config routes test --config.file="$CONFIG" --verify.receivers="${expected// }" $labels 2>/dev/null); then
    echo "route test failed: {$labels} went to '$got', expected '${expected// }'" >&2
    failures=$((failures + 1))
  fi
done <<'CASES'
page   | alertname=GridOSAvailabilityBurnRateCritical severity=page slo=availability namespace=gridos
page   | alertname=GridOSLatencyBurnRateHigh severity=page slo=latency namespace=gridos
page   | alertname=GridOSDatabaseNotReady severity=page namespace=gridos
page   | alertname=GridOSRolloutDegraded severity=page namespace=gridos name=gridos
ticket | alertname=GridOSAvailabilityBurnRateTicket severity=ticket slo=availability namespace=gridos
ticket | alertname=GridOSErrorBudgetHalfBurned severity=ticket slo=availability namespace=gridos
ticket | alertname=GridOSAlarmFlood severity=ticket namespace=gridos
# no severity at all still reaches someone
ticket | alertname=SomethingNew namespace=gridos
CASES
if (( failures > 0 )); then
  exit 1
fi
echo "alertmanager routes: all cases reach the expected receiver"
