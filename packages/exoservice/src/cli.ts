// Placeholder: the helpers fill in `run`, `new` and `landscape`.
process.stderr.write('exoservice: not built yet\n')
process.exitCode = 1
