"""Write scripts/v2_new_tasks.txt: the new CPU tasks of data/v2 that dataset v2 measures (workload ids, so the
same list picks the GPU tasks of the same workloads). Re-run on a dataset whose new tasks are not measured yet, it
writes the same list.

    .venv/bin/python scripts/choose_v2_tasks.py [--dataset data/v2] [--conv2d 110] [--out scripts/v2_new_tasks.txt]
"""

import argparse

from tenset_study.collect.selection import choose_tasks, write_task_list
from tenset_study.data.dataset import Dataset

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--dataset", default="data/v2")
parser.add_argument("--conv2d", type=int, default=110, help="most conv2d tasks kept (the other classes whole)")
parser.add_argument("--min-programs", type=int, default=32)
parser.add_argument("--out", default="scripts/v2_new_tasks.txt")
args = parser.parse_args()

ds = Dataset(args.dataset)
tasks = ds.to_pandas("tasks", columns=["task", "kind", "op", "arg_shapes", "arg_dtypes"])
programs = ds.to_pandas("programs", columns=["program", "task"])
measured = set(programs.loc[programs["program"].isin(ds.to_pandas("measurements", columns=["program"])["program"]), "task"])
new = tasks[(tasks["kind"] == "cpu") & ~tasks["task"].isin(measured)]
chosen = choose_tasks(new, programs.groupby("task").size(), ds.to_pandas("network_tasks"),
                      min_programs=args.min_programs, caps={"conv2d": args.conv2d})
header = (f"Dataset v2's new tasks: {len(chosen)} of the {len(new)} unmeasured CPU tasks of {args.dataset}, chosen by\n"
          f"scripts/choose_v2_tasks.py --conv2d {args.conv2d} --min-programs {args.min_programs}: every task with at least\n"
          f"{args.min_programs} programs, all operator classes whole but conv2d ({args.conv2d}, spread over networks).\n"
          "Workload ids (tenset_study.collect.selection): the same list picks the GPU tasks of these workloads.\n"
          "Per class: " + ", ".join(f"{op} {n}" for op, n in chosen["op"].value_counts().items()))
write_task_list(args.out, chosen["workload_id"], header)
print(header)
