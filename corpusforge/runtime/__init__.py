"""The run core: how one command owns its output folder and every process it starts, and how it reports.

Every long command (`corpusforge build`, `corpusforge label`, `corpusforge train`) must refuse a second run into
the same output, stop cleanly on a signal, and leave no process behind when it is killed, even by SIGKILL. The
pieces:

- lock.py       RunLock: an flock on OUTPUT/<name>.lock naming its holder; a dead holder's lock is taken over
                (build.lock, label.lock, train.lock; held_lock for a label task's and a device slot's lock)
- guard.py      RunGuard: the lock, the sweeper and the stop signals (`Stopped`) of one build or label run
- sweeper.py    a stdlib-only script that outlives a SIGKILLed command just long enough to end what it started
- procgroup.py  ProcessGroup: a command run in a process group of its own, led by watchdog.py
- watchdog.py   a stdlib-only script leading that group: kills it when its parent dies or the command exits
- progress.py   Heartbeat: progress lines every 30 s when the output is a file or a pipe
- executors.py  where a build's stages and a label job's tasks run: one schema (local, Ray, Slurm), make_executor

Who uses what:

- build and label: lock + guard + sweeper. Their processes (datatrove's pool workers and Manager server, a local
  Ray instance, vLLM's EngineCore, task processes) are started by libraries, deep in the tree, and some move to
  other process groups or sessions; the sweeper finds them by the process tree and a token in their environment.
  Nothing needs signalling one by one while the run lives: a stop is handled in the command's own process.
- train: lock + a process group (procgroup + watchdog). `corpusforge train` runs DeepSpeed's launcher, which
  starts the ranks; on one node the launcher handles no signal (SIGTERM kills it and leaves launch.py and the
  ranks running), launch.py SIGKILLs the ranks 30 s after forwarding a stop, and nothing notices when the command
  that started them dies. So the CLI needs the run as a group it can look into: it sends SIGTERM to the ranks
  themselves (they save a checkpoint after the current step, train/lifecycle.py) instead of to the launcher, and
  the watchdog kills the whole group (and what left it, such as ninja's compilers of a DeepSpeed op) the moment
  the CLI dies (PR_SET_PDEATHSIG). The watchdog also holds the lock's descriptor, so the lock is free only once
  the group is gone. train/supervise.py is that glue; train/lifecycle.py the ranks' side (stop flag, lock).

Nothing here imports torch, vllm or deepspeed; sweeper.py and watchdog.py import no corpusforge module at all
(they start as plain scripts, in milliseconds).
"""
