#!/usr/bin/env bash
# JMH benchmarks of the decision path and of memory per tracked key.
#   bench/jmh.sh                 full run (several minutes)
#   bench/jmh.sh --smoke         one short iteration of each, to keep them compiling and running (CI)
# Extra arguments go to JMH (e.g. a benchmark name regex, -p store=redis).
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -q -B -DskipTests test-compile
./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-classpath.txt >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench-classpath.txt)"
if [ "${1:-}" = "--smoke" ]; then
  shift
  exec java -cp "$CP" org.openjdk.jmh.Main -f 1 -wi 1 -w 1s -i 1 -r 1s "$@"
fi
exec java -cp "$CP" org.openjdk.jmh.Main -f 1 -wi 3 -w 5s -i 5 -r 5s "$@"
