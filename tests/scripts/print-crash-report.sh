#!/usr/bin/env bash
# Prints the crashed thread of a .NET crash report (DOTNET_EnableCrashReport=1, written by the runtime's createdump
# beside the minidump) as one line per frame: managed frames as method and assembly, native ones as module and symbol
# where the report names one, else module and offset. Usage: print-crash-report.sh REPORT.crashreport.json [MAX_FRAMES]
set -euo pipefail
report=${1:?usage: print-crash-report.sh REPORT.crashreport.json [MAX_FRAMES]}
echo "crash report $report (the minidump beside it):"
awk -v max="${2:-60}" '
  function value(line) { sub(/^[^:]*: *"/, "", line); sub(/",? *$/, "", line); return line }
  /"process_name"/ { print "  process " value($0) }
  /"managed_exception_type"/ && on { print "  exception " value($0) }
  /"crashed": "true"/ { on = 1; next }
  /"crashed": "false"/ { on = 0 }
  on && /^ *{ *$/ { method = ""; file = ""; module = ""; symbol = ""; offset = "" }
  on && /"method_name"/ { method = value($0) }
  on && /"filename"/ { file = value($0) }
  on && /"native_module"/ { module = value($0) }
  on && /"unmanaged_name"/ { symbol = value($0) }
  on && /"native_image_offset"/ { offset = value($0) }
  on && /^ *},? *$/ && (method != "" || module != "") && frames < max {
    frames++
    if (method != "") print "  " method " (" file ")"
    else print "  " module (symbol != "" ? "!" symbol : "+" offset)
    method = ""; module = ""
  }
' "$report"
