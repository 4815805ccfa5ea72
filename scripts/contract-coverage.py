"""Per operation, how many of schemathesis' cases got a 2xx, from the runs' NDJSON event
reports (`--report ndjson`); fails when an operation of the document that a run selected got
none, or when a stateful phase did not run. The operations of a run given with
`--informational` are counted but need no 2xx (what the driver cannot do, answered 501).

    python contract-coverage.py RUN.ndjson... [--informational RUN.ndjson]...
"""

import collections
import json
import sys


def main(arguments: list[str]) -> int:
    paths = [(path, False) for path in arguments if path != "--informational"]
    for index, argument in enumerate(arguments[:-1]):
        if argument == "--informational":
            paths[paths.index((arguments[index + 1], False))] = (arguments[index + 1], True)
    cases = collections.Counter()
    successes = collections.Counter()
    selected = set()
    informational = set()
    stateful_scenarios = 0
    for path, only_counted in paths:
        with open(path, encoding="utf-8") as events:
            for line in events:
                event = json.loads(line)
                finished = event.get("ScenarioFinished")
                if not finished:
                    continue
                recorder = finished.get("recorder", {})
                if finished.get("phase") == "stateful" and recorder.get("cases"):
                    stateful_scenarios += 1
                if finished.get("phase") != "stateful" and "label" in recorder:
                    (informational if only_counted else selected).add(recorder["label"])
                interactions = recorder.get("interactions", {})
                for case_id, case in recorder.get("cases", {}).items():
                    value = case["value"]
                    interaction = interactions.get(case_id)
                    if interaction is None or interaction.get("response") is None:
                        continue
                    # Cases of methods the operation does not have (coverage's "unspecified
                    # method" probes) are not the operation's.
                    operation = f"{value['method']} {value['path']}"
                    cases[operation] += 1
                    if 200 <= interaction["response"]["status_code"] < 300:
                        successes[operation] += 1
    width = max(map(len, selected | informational), default=0)
    print(f"{'operation'.ljust(width)}  2xx / cases")
    missing = []
    for operation in sorted(selected | informational):
        note = "" if operation in selected else "  (not required: the driver does not do it)"
        print(f"{operation.ljust(width)}  {successes[operation]:>4} / {cases[operation]}{note}")
        if successes[operation] == 0 and operation in selected:
            missing.append(operation)
    print(f"stateful scenarios with requests: {stateful_scenarios}")
    failed = False
    if missing:
        print("operations that never got a 2xx: " + ", ".join(missing), file=sys.stderr)
        failed = True
    if stateful_scenarios == 0:
        print("the stateful phase did not run", file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
