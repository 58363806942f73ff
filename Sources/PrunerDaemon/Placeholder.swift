// Replaced by the daemon.
