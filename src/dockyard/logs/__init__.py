"""Container logs: docker's json-file, local and none drivers.

    options    LogConfig checked and resolved against the daemon's defaults; what the shim is told
    jsonfile   docker's json-file records: one JSON object per line
    local      docker's local records: protobuf LogEntry messages framed by their length
    writer     what the shim runs: lines -> records -> a rotating file, rotated files gzipped if asked
    reader     what the daemon runs: every file of a log, oldest first, then follow

The shim writes, the daemon reads; they share nothing but the files, so no line
is lost while the daemon is down.
"""
